"""Mailjet's Event API over real HTTP: single events and grouped arrays shaped like Mailjet's
documented events, Basic credentials, de-duplication by message, type and time."""

from __future__ import annotations

import json

import httpx
import pytest

from openesp.audience.models import Suppression
from openesp.events.models import InboxBatch, InboxEvent
from openesp.messaging.models import Event, Message
from tests.events.conftest import MAILJET_PASSWORD, MAILJET_USER, process_all, sent

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = (MAILJET_USER, MAILJET_PASSWORD)


def _event(name: str, message: Message, time: int = 1433333949, **fields) -> dict:
    # The common fields of every Mailjet event, as its Event API documentation lists them.
    return {
        "event": name,
        "time": time,
        "MessageID": 19421777835146490 + message.pk,
        "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
        "email": message.to_email,
        "mj_campaign_id": 7257,
        "mj_contact_id": 4,
        "customcampaign": "",
        "CustomID": f"{message.public_id}@openesp.test",
        "Payload": f"openesp_message_id={message.public_id}",
        **fields,
    }


@pytest.fixture
def messages(alice, workspace) -> dict[str, Message]:
    names = ["ok", "hard", "soft", "spamfilter", "blocked", "spam", "unsub"]
    return dict(zip(names, sent(alice, workspace, [f"{n}@example.net" for n in names], "mailjet"), strict=True))


def _batch(m: dict[str, Message]) -> list[dict]:
    return [
        _event("sent", m["ok"], smtp_reply="250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp",
               mj_message_id="19421777835146490"),
        _event("open", m["ok"], 1433333960, ip="127.0.0.1", geo="US", agent="Mozilla/5.0 (Windows NT 5.1; rv:21.0)"),
        _event("click", m["ok"], 1433333970, url="https://www.mailjet.com", ip="127.0.0.1", geo="FR",
               agent="Mozilla/5.0 (Windows NT 6.1; WOW64)"),
        _event("bounce", m["hard"], blocked=False, hard_bounce=True, error_related_to="recipient",
               error="user unknown"),
        _event("bounce", m["soft"], blocked=False, hard_bounce=False, error_related_to="domain",
               error="connection refused"),
        _event("bounce", m["spamfilter"], blocked=True, hard_bounce=True, error_related_to="spam",
               error="sender blocked"),
        _event("blocked", m["blocked"], error_related_to="recipient", error="user unknown"),
        _event("spam", m["spam"], source="JMRPP"),
        _event("unsub", m["unsub"], mj_list_id=1, ip="127.0.0.1", geo="FR", agent="Mozilla/5.0"),
    ]  # fmt: skip


def test_a_grouped_batch_is_processed(http, mailjet_credentials, messages, workspace):
    response = http.post("/hooks/mailjet", json=_batch(messages), auth=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 9}
    process_all()
    statuses = {name: Message.objects.get(pk=m.pk).status for name, m in messages.items()}
    assert statuses == {
        "ok": "delivered", "hard": "bounced", "soft": "bounced", "spamfilter": "bounced", "blocked": "dropped",
        "spam": "sent", "unsub": "sent",
    }  # fmt: skip
    kinds = dict(Event.objects.filter(type="bounced").values_list("message__to_email", "data__bounce"))
    assert kinds == {"hard@example.net": "hard", "soft@example.net": "soft", "spamfilter@example.net": "sender"}
    delivered = Event.objects.get(message=messages["ok"], type="delivered")
    assert (delivered.smtp_code, delivered.enhanced_status) == (250, "2.0.0")
    assert Event.objects.get(message=messages["ok"], type="clicked").data["url"] == "https://www.mailjet.com"
    reasons = dict(Suppression.objects.filter(workspace=workspace).values_list("email", "reason"))
    assert reasons == {
        "hard@example.net": "hard_bounce",
        "spam@example.net": "complaint",
        "unsub@example.net": "unsubscribe",
    }


def test_a_single_event_object_is_accepted_and_its_replay_ignored(http, mailjet_credentials, messages):
    one = _event("open", messages["ok"], ip="127.0.0.1", agent="Mozilla/5.0")
    assert http.post("/hooks/mailjet", json=one, auth=AUTH).json() == {"received": 1}
    assert http.post("/hooks/mailjet", json=one, auth=AUTH).json() == {"received": 1}
    # The same message and type a second later is another open.
    later = dict(one, time=one["time"] + 1)
    assert http.post("/hooks/mailjet", json=[one, later], auth=AUTH).json() == {"received": 2}
    process_all()
    assert Event.objects.filter(type="opened").count() == 2
    # Stored as they came; the replays were found and skipped when processed.
    assert list(InboxBatch.objects.order_by("id").values_list("events", "duplicates", "state")) == [
        (1, 0, "done"),
        (1, 1, "done"),
        (2, 1, "done"),
    ]
    assert InboxEvent.objects.count() == 2


def test_a_message_is_found_by_custom_id_alone(http, mailjet_credentials, messages):
    event = _event("sent", messages["ok"])
    del event["Payload"]
    http.post("/hooks/mailjet", json=event, auth=AUTH)
    process_all()
    assert Message.objects.get(pk=messages["ok"].pk).status == "delivered"


@pytest.mark.parametrize(
    "auth", [None, ("mj-hook", "wrong"), ("someone", MAILJET_PASSWORD), "Bearer x", "Basic %%%", "Basic"]
)
def test_wrong_credentials_are_401_and_store_nothing(http, mailjet_credentials, messages, auth):
    body = json.dumps(_batch(messages))
    headers = {"Content-Type": "application/json"}
    if isinstance(auth, str):
        headers["Authorization"] = auth
    response = http.post(
        "/hooks/mailjet", content=body, headers=headers, auth=auth if isinstance(auth, tuple) else None
    )
    assert response.status_code == 401
    assert not InboxBatch.objects.exists()


def test_unconfigured_credentials_refuse_everything(http, messages):
    response = http.post("/hooks/mailjet", json=_batch(messages), auth=httpx.BasicAuth("", ""))
    assert response.status_code == 401
    assert not InboxBatch.objects.exists()


@pytest.mark.parametrize("body", [b"<xml/>", b"", b'"text"', b"[1, 2"])
def test_a_body_that_is_not_json_events_is_400(http, mailjet_credentials, body):
    response = http.post("/hooks/mailjet", content=body, auth=AUTH, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert not InboxBatch.objects.exists()


def test_malformed_events_are_kept_and_the_batch_answered(http, mailjet_credentials, messages):
    batch = [_event("sent", messages["ok"]), {"event": "open"}, {"time": 1}, 7, {"event": "open", "time": 1}]
    assert http.post("/hooks/mailjet", json=batch, auth=AUTH).json() == {"received": 5}
    process_all()
    assert sorted(InboxEvent.objects.values_list("state", "reason")) == [
        ("done", ""),
        ("malformed", "an event must be a JSON object"),
        ("malformed", "event: missing"),
        ("malformed", "names no message: no CustomID, Payload or MessageID"),
        ("malformed", "time: expected a Unix time"),
    ]


def test_a_payload_that_names_a_second_message_is_not_believed(http, mailjet_credentials, messages):
    # A sender's metadata value spelling "openesp_message_id=<another message>" in EventPayload.
    victim, own = messages["hard"], messages["ok"]
    event = _event("bounce", own, hard_bounce=True, error_related_to="recipient", error="user unknown")
    event["Payload"] = f"note=x;openesp_message_id={victim.public_id};openesp_message_id={own.public_id}"
    http.post("/hooks/mailjet", json=event, auth=AUTH)  # CustomID names our own message
    del event["CustomID"]
    event["time"] += 1
    http.post("/hooks/mailjet", json=event, auth=AUTH)  # without it, the ambiguous Payload names nothing
    process_all()
    assert Message.objects.get(pk=victim.pk).status == "sent"
    assert Message.objects.get(pk=own.pk).status == "bounced"
    assert sorted(InboxEvent.objects.values_list("state", flat=True)) == ["done", "unmatched"]

"""SendGrid's Event Webhook over real HTTP: signed batches shaped like the examples of SendGrid's
Event Webhook reference, stored first, processed after; refused and replayed batches."""

from __future__ import annotations

import json
import time

import pytest

from openesp.audience.models import Contact, ContactStatus, Suppression
from openesp.events.models import InboxBatch, InboxEvent, State
from openesp.messaging.models import Event, Message
from openesp.stats.models import DailyCounter
from tests.events.conftest import process_all, sent

pytestmark = pytest.mark.django_db(transaction=True)


def _batch(m: dict[str, Message]) -> list[dict]:
    """Every event type of SendGrid's reference example, each carrying our custom_args."""

    def event(name: str, message: Message, n: int, **fields) -> dict:
        return {
            "email": message.to_email,
            "timestamp": 1513299569 + n,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": name,
            "category": "cat facts",
            "sg_event_id": f"rbtnWrG1DVDGGGFHFyun0A{n:02d}==",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",
            "openesp_message_id": str(message.public_id),
            **fields,
        }

    return [
        event("processed", m["ok"], 0),
        event("deferred", m["ok"], 1, response="400 try again later", attempt="5"),
        event("delivered", m["ok"], 2, response="250 OK", category=["cat facts", "dog facts"]),
        event("open", m["ok"], 3, useragent="Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)", ip="255.255.255.255"),
        event("click", m["ok"], 4, useragent="Mozilla/4.0", ip="255.255.255.255", url="http://www.sendgrid.com/"),
        event("bounce", m["hard"], 5, reason="500 unknown recipient", status="5.0.0", type="bounce",
              bounce_classification="Invalid Address"),
        event("bounce", m["blocked"], 6, reason="550 5.7.1 message refused as spam", status="5.7.1", type="blocked"),
        event("dropped", m["dropped"], 7, reason="Bounced Address", status="5.0.0"),
        event("spamreport", m["spam"], 8),
        event("unsubscribe", m["unsub"], 9),
        event("group_unsubscribe", m["unsub"], 10, asm_group_id=10),
        event("group_resubscribe", m["unsub"], 11, asm_group_id=10),
    ]  # fmt: skip


@pytest.fixture
def messages(alice, workspace) -> dict[str, Message]:
    names = ["ok", "hard", "blocked", "dropped", "spam", "unsub"]
    made = sent(alice, workspace, [f"{n}@example.net" for n in names])
    for name in names:
        Contact.objects.create(workspace=workspace, email=f"{name}@example.net", email_key=f"{name}@example.net")
    return dict(zip(names, made, strict=True))


def _post(http, signer, batch, **kw):
    body = json.dumps(batch).encode()
    return http.post("/hooks/sendgrid", content=body, headers=signer.headers(body, **kw))


def test_a_signed_batch_is_stored_then_processed_into_events_statuses_and_suppressions(
    http, signer, messages, workspace
):
    response = _post(http, signer, _batch(messages))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 12}
    # Stored first, as it came (one row): nothing is processed by the request itself.
    batch = InboxBatch.objects.get()
    assert (batch.state, batch.events, json.loads(batch.body)) == (State.PENDING, 12, _batch(messages))
    assert not InboxEvent.objects.exists()
    assert not Event.objects.exclude(type="queued").exists()
    assert process_all() == 12
    assert InboxBatch.objects.get().state == State.DONE
    assert InboxEvent.objects.filter(state=State.DONE).count() == 10
    assert set(InboxEvent.objects.filter(state=State.IGNORED).values_list("reason", flat=True)) == {
        "event 'processed' is not recorded",
        "event 'group_resubscribe' is not recorded",
    }

    def types(name):
        return list(
            Event.objects.filter(message=messages[name]).exclude(type="queued").order_by("created_at", "id")
            .values_list("type", flat=True)
        )  # fmt: skip

    assert types("ok") == ["deferred", "delivered", "opened", "clicked"]
    assert types("hard") == ["bounced"]
    assert types("spam") == ["complained"]
    assert types("unsub") == ["unsubscribed", "unsubscribed"]
    statuses = {name: Message.objects.get(pk=m.pk).status for name, m in messages.items()}
    assert statuses == {
        "ok": "delivered", "hard": "bounced", "blocked": "bounced", "dropped": "dropped", "spam": "sent",
        "unsub": "sent",
    }  # fmt: skip
    click = Event.objects.get(message=messages["ok"], type="clicked")
    assert click.data["url"] == "http://www.sendgrid.com/"
    assert click.data["first"] is True  # the statistics count unique clicks by it
    assert click.data["provider"] == "sendgrid"
    bounce = Event.objects.get(message=messages["hard"], type="bounced")
    assert (bounce.enhanced_status, bounce.smtp_code, bounce.detail) == ("5.0.0", 500, "500 unknown recipient")
    assert bounce.data["bounce"] == "hard"
    assert Event.objects.get(message=messages["blocked"], type="bounced").data["bounce"] == "sender"
    # Suppressed: the hard bounce and the complaint and the unsubscription; not the policy
    # block (the sender's problem) nor SendGrid's own drop.
    reasons = dict(Suppression.objects.filter(workspace=workspace).values_list("email", "reason"))
    assert reasons == {
        "hard@example.net": "hard_bounce",
        "spam@example.net": "complaint",
        "unsub@example.net": "unsubscribe",
    }
    contacts = dict(Contact.objects.filter(workspace=workspace).values_list("email", "status"))
    assert contacts["hard@example.net"] == ContactStatus.BOUNCED
    assert contacts["spam@example.net"] == ContactStatus.COMPLAINED
    assert contacts["ok@example.net"] == ContactStatus.ACTIVE


def test_a_replayed_batch_stores_nothing_new_and_doubles_nothing(http, signer, messages):
    batch = _batch(messages)
    assert _post(http, signer, batch).json() == {"received": 12}
    process_all()
    events, counters = Event.objects.count(), list(DailyCounter.objects.values())
    statuses = dict(Message.objects.values_list("id", "status"))
    replay = _post(http, signer, batch)
    assert replay.status_code == 200  # the provider must stop retrying
    assert replay.json() == {"received": 12}
    process_all()
    assert InboxBatch.objects.order_by("id").last().duplicates == 12
    assert (Event.objects.count(), list(DailyCounter.objects.values())) == (events, counters)
    assert dict(Message.objects.values_list("id", "status")) == statuses
    # Half of it again, mixed with one new event (and that one twice): only that one is new.
    fresh = dict(batch[2], sg_event_id="brand-new-event-id", event="open", timestamp=1513299600)
    assert _post(http, signer, [*batch[:6], fresh, fresh]).json() == {"received": 8}
    process_all()
    assert InboxBatch.objects.order_by("id").last().duplicates == 7
    assert Event.objects.count() == events + 1
    assert InboxEvent.objects.count() == 13


@pytest.mark.parametrize(
    "tamper",
    ["signature", "body", "timestamp-old", "timestamp-future", "no-headers", "other-key", "not-base64"],
)
def test_bad_signatures_and_stale_timestamps_are_401_and_store_nothing(http, signer, messages, tamper):
    body = json.dumps(_batch(messages)).encode()
    headers = signer.headers(body)
    if tamper == "signature":
        headers = signer.headers(body + b" ")
        headers["Content-Type"] = "application/json"
    elif tamper == "body":
        body = body.replace(b"5.0.0", b"2.0.0")
    elif tamper == "timestamp-old":
        headers = signer.headers(body, timestamp=int(time.time()) - 301)
    elif tamper == "timestamp-future":
        headers = signer.headers(body, timestamp=int(time.time()) + 301)
    elif tamper == "no-headers":
        headers = {"Content-Type": "application/json"}
    elif tamper == "other-key":
        from tests.events.conftest import Signer

        headers = Signer().headers(body)
    elif tamper == "not-base64":
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "%%%"
    response = http.post("/hooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert not InboxBatch.objects.exists()


def test_without_a_configured_key_every_batch_is_refused(http, signer, settings, messages):
    settings.OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY = ""
    response = _post(http, signer, _batch(messages))
    assert response.status_code == 401
    assert "OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json()["detail"]
    assert not InboxBatch.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b'{"event": ', b"\xff\xfe", b"", b'{"event": "open"}', b"42"])
def test_a_signed_body_that_is_not_a_json_array_is_400(http, signer, body):
    response = http.post("/hooks/sendgrid", content=body, headers=signer.headers(body))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    assert not InboxBatch.objects.exists()


def test_garbage_and_unmatched_events_in_a_valid_batch_are_kept_with_their_reason(http, signer, messages):
    good = _batch(messages)[2]  # delivered
    batch = [
        good,
        "not an object",
        {"event": "open", "timestamp": 1513299569},  # no sg_event_id
        {"event": "open", "sg_event_id": "x1", "timestamp": "yesterday"},
        dict(good, sg_event_id="stranger", openesp_message_id="6f1c1c4e-0000-4000-8000-000000000000"),
        dict(good, sg_event_id="no-ref", openesp_message_id=None),
        dict(good, sg_event_id="bad-ref", openesp_message_id="not-a-uuid"),
    ]
    response = _post(http, signer, batch)
    assert response.status_code == 200
    assert response.json() == {"received": 7}
    process_all()
    rows = {(r.state, r.reason) for r in InboxEvent.objects.all()}
    assert rows == {
        ("done", ""),
        ("malformed", "an event must be a JSON object"),
        ("malformed", "sg_event_id: missing"),
        ("malformed", "timestamp: expected a Unix time, got 'yesterday'"),
        ("unmatched", "names no message of ours"),
    }
    assert InboxEvent.objects.filter(state="unmatched").count() == 3
    assert Message.objects.get(pk=messages["ok"].pk).status == "delivered"


def test_the_message_api_shows_the_provider_events_in_its_timeline(http, signer, messages, alice):
    from tests.api.conftest import api_for

    _post(http, signer, _batch(messages))
    process_all()
    api = api_for(alice)
    detail = api.get(f"/api/v1/messages/{messages['hard'].public_id}").json()
    assert detail["status"] == "bounced"
    # The timeline is ordered by when things happened: the provider's time (2017 in the example).
    bounce = detail["events"][0]
    assert bounce["type"] == "bounced"
    assert bounce["created_at"].startswith("2017-12-15T")
    assert (bounce["smtp_code"], bounce["enhanced_status"]) == (500, "5.0.0")
    assert bounce["data"]["bounce"] == "hard"
    opened = [
        e for e in api.get(f"/api/v1/messages/{messages['ok'].public_id}").json()["events"] if e["type"] == "opened"
    ]
    assert opened[0]["data"]["user_agent"].startswith("Mozilla/4.0")


def test_only_a_messages_first_open_is_first_and_apple_proxy_opens_are_machine(http, signer, messages):
    ok = messages["ok"]
    opens = [
        {"email": ok.to_email, "timestamp": 1513299600 + n, "event": "open", "sg_event_id": f"open-{n}",
         "openesp_message_id": str(ok.public_id), **({"sg_machine_open": True} if n == 0 else {})}
        for n in range(3)
    ]  # fmt: skip
    _post(http, signer, opens[:2])
    process_all()
    _post(http, signer, opens[2:])
    process_all()
    found = list(Event.objects.filter(message=ok, type="opened").order_by("created_at").values_list("data", flat=True))
    assert [d["first"] for d in found] == [True, False, False]
    assert [d.get("machine", False) for d in found] == [True, False, False]


def test_an_event_that_fails_is_kept_as_failed_and_the_rest_of_its_batch_goes_on(http, signer, messages, monkeypatch):
    from openesp.events.inbox import PARSERS

    parse = PARSERS["sendgrid"]

    def fails_on_poison(item):
        if isinstance(item, dict) and item.get("sg_event_id") == "poison":
            raise RuntimeError("a bug met this event")
        return parse(item)

    monkeypatch.setitem(PARSERS, "sendgrid", fails_on_poison)
    good = _batch(messages)
    poison = dict(good[3], sg_event_id="poison")
    assert _post(http, signer, [*good[1:5], poison]).json() == {"received": 5}
    assert process_all() == 5
    assert InboxBatch.objects.get().state == State.DONE
    rows = dict(InboxEvent.objects.values_list("state", "reason").order_by("state"))
    assert rows == {"done": "", "failed": "RuntimeError: a bug met this event"}
    assert InboxEvent.objects.get(state="failed").payload == poison  # kept for the operator
    assert list(
        Event.objects.filter(message=messages["ok"]).exclude(type="queued").order_by("created_at")
        .values_list("type", flat=True)
    ) == ["deferred", "delivered", "opened", "clicked"]  # fmt: skip
    assert Message.objects.get(pk=messages["ok"].pk).status == "delivered"

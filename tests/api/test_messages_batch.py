"""``POST /api/v1/messages/batch``: many individual messages in one request, each as the single
send would take it; a refused one does not stop the others."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.accounts.models import Membership, Role, User
from openesp.audience.suppressions import add_suppression
from openesp.messaging import idempotency
from openesp.messaging.models import Attachment, Event, IdempotencyRecord, Message
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/batch"
SINGLE = "/api/v1/messages"
NOT_A_SENDER = "ceo@bank.example"


def _message(**extra):
    body = {"from": "alice@example.org", "to": ["rcpt@example.net"], "subject": "Your order", "text": "Thanks!"}
    body.update(extra)
    return body


def _fields(body) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in body["errors"]}


def _post_with_key(api: Api, body, key: str):
    return api.client.post(
        URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}", HTTP_IDEMPOTENCY_KEY=key
    )


# --- one answer per message ---------------------------------------------------------------------


def test_each_message_of_a_batch_keeps_its_own_fields(alice, alice_api):
    # The rows of one request are copied from its first (lib.fastmodel.like): none of the first
    # one's values may leak into another.
    later = (timezone.now() + timedelta(days=1)).isoformat()
    first = _message(from_={"email": "alice@example.org", "name": "Alice"}, to=["a@example.net", "b@example.net"])
    first["from"] = first.pop("from_")
    second = _message(
        to=[{"email": "c@example.net", "name": "Cee"}], cc=["d@example.net"], bcc=["e@example.net"],
        subject="Other", text="", html="<p>Other</p>", headers={"X-Order": "7"}, metadata={"order": "7"},
        tags=["news"], tracking={"opens": True}, send_at=later, sandbox=True, category="category_message",
        reply_to="help@example.org",
    )  # fmt: skip
    response = alice_api.post(URL, {"messages": [first, second]})
    assert response.status_code == 202, response.content
    ids = [entry["ids"] for entry in response.json()["messages"]]
    rows = {str(m.public_id): m for m in Message.objects.all()}
    assert len(rows) == 5 and len({*ids[0], *ids[1]}) == 5
    a, b = (rows[i] for i in ids[0])
    assert (a.to_email, b.to_email, a.from_name, a.subject, a.status) == (
        "a@example.net", "b@example.net", "Alice", "Your order", "queued",
    )  # fmt: skip
    assert a.visible_to == b.visible_to == "a@example.net, b@example.net"
    c, d, e = (rows[i] for i in ids[1])
    for m in (c, d, e):
        assert (m.from_name, m.subject, m.text_body, m.html_body, m.category, m.reply_to) == (
            "", "Other", "", "<p>Other</p>", "category_message", "help@example.org",
        )  # fmt: skip
        assert (m.headers, m.metadata, m.tags, m.tracking, m.status) == (
            {"X-Order": "7"}, {"order": "7"}, ["news"], {"opens": True}, "sandbox",
        )  # fmt: skip
        assert m.not_before > timezone.now() + timedelta(hours=23)
        assert m.visible_cc == "d@example.net"
    assert (c.to_email, c.to_name, d.to_email, e.to_email) == ("c@example.net", "Cee", "d@example.net", "e@example.net")
    assert (a.headers, a.metadata, a.tags, a.tracking, a.visible_cc) == ({}, {}, [], {}, "")
    events = dict(Event.objects.filter(type="queued").values_list("message__public_id", "detail"))
    assert events[c.public_id].startswith("sandbox") and events[a.public_id] == ""


def test_it_accepts_the_good_messages_and_refuses_the_bad_one_in_order(alice, alice_api):
    response = alice_api.post(
        URL,
        {
            "messages": [
                _message(to=["a@example.net", "b@example.net"]),
                _message(to=["not-an-address"], subject="Bad"),
                _message(to=[{"email": "c@example.net", "name": "Cee"}], cc=["d@example.net"]),
            ]
        },
    )
    assert response.status_code == 202, response.content
    first, bad, third = response.json()["messages"]
    assert set(first) == {"ids"} and set(third) == {"ids"}
    assert len(first["ids"]) == 2 and len(third["ids"]) == 2
    assert bad["error"] == "invalid"
    assert set(_fields(bad)) == {"messages[1].to[0]"}
    assert bad["detail"].startswith("messages[1].to[0]: 'not-an-address'")
    stored = {str(m.public_id): m for m in Message.objects.all()}
    assert sorted(stored) == sorted(first["ids"] + third["ids"])
    assert [stored[i].to_email for i in first["ids"] + third["ids"]] == [
        "a@example.net",
        "b@example.net",
        "c@example.net",
        "d@example.net",
    ]
    assert {m.user for m in stored.values()} == {alice}
    # The bad one created nothing: every message and event belongs to the good ones.
    assert not Message.objects.filter(subject="Bad").exists()
    assert Event.objects.filter(type="queued").count() == 4


def test_it_answers_an_accepted_message_as_the_single_send_does(alice_api):
    single = alice_api.post(SINGLE, _message(to=["a@example.net", "b@example.net"]))
    batch = alice_api.post(URL, {"messages": [_message(to=["a@example.net", "b@example.net"])]})
    assert (single.status_code, batch.status_code) == (202, 202)
    (entry,) = batch.json()["messages"]
    assert set(entry) == set(single.json()) == {"ids"}
    assert [uuid.UUID(i) for i in entry["ids"]]  # message ids, as the single send's


def test_it_names_each_field_of_a_refused_message_by_its_position(alice_api):
    response = alice_api.post(
        URL,
        {
            "messages": [
                _message(subject=" ", send_at="tomorrow", category="system"),
                _message(subject="Hi\r\nBcc: victim@example.com"),
                _message(to=["nobody"], attachments=[{"filename": "x.bin", "content": "not base64!"}]),
                _message(tags="orders"),  # not a list: refused by the schema, as the single send's 422
                {"subject": "no from"},
            ]
        },
    )
    assert response.status_code == 202, response.content
    entries = response.json()["messages"]
    assert set(_fields(entries[0])) == {"messages[0].subject", "messages[0].send_at", "messages[0].category"}
    # A line break is a 400 for the single send; here its entry, with the same reason.
    assert _fields(entries[1]) == {"messages[1].subject": "must not contain line breaks or NUL characters"}
    assert set(_fields(entries[2])) == {"messages[2].to[0]", "messages[2].attachments[0].content"}
    assert set(_fields(entries[3])) == {"messages[3].tags"}
    assert {"messages[4].from", "messages[4].to"} <= set(_fields(entries[4]))
    assert {e["error"] for e in entries} == {"invalid"}
    assert not Message.objects.exists()


# --- the shape of the request -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [_message(to=[f"r{i}@example.net"]) for i in range(501)]},
        {"messages": []},
        {"messages": _message()},
        {"message": [_message()]},
        {},
    ],
    ids=["501 messages", "none", "an object", "misnamed", "empty body"],
)
def test_it_refuses_a_body_that_is_not_1_to_500_messages(alice_api, body):
    response = alice_api.post(URL, body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "invalid"
    assert set(_fields(response.json())) == {"messages"}
    assert not Message.objects.exists()


def test_it_refuses_a_message_that_is_not_an_object(alice_api):
    response = alice_api.post(URL, {"messages": [_message(), "hello"]})
    assert response.status_code == 422, response.content
    assert set(_fields(response.json())) == {"messages[1]"}
    assert not Message.objects.exists()


def test_it_takes_500_messages_in_a_few_queries(alice_api, django_assert_max_num_queries):
    attachment = [{"filename": "a.txt", "content": base64.b64encode(b"a").decode()}]
    body = {"messages": [_message(to=[f"r{i}@example.net"], attachments=attachment) for i in range(500)]}
    # Bulk inserts, and one sender check for one From address: not a round trip per message.
    with django_assert_max_num_queries(40):
        response = alice_api.post(URL, body)
    assert response.status_code == 202, response.content
    assert len(response.json()["messages"]) == 500
    assert Message.objects.count() == 500 and Event.objects.count() == 500
    assert Attachment.objects.count() == 500  # one per message: each brought its own
    assert Message.attachments.through.objects.count() == 500


# --- as the single send, per message ------------------------------------------------------------


def test_it_refuses_only_the_message_with_a_sender_the_caller_may_not_use(alice_api):
    single = alice_api.post(SINGLE, _message(**{"from": NOT_A_SENDER}))
    assert single.status_code == 403
    response = alice_api.post(URL, {"messages": [_message(**{"from": NOT_A_SENDER}), _message()]})
    assert response.status_code == 202, response.content
    refused, accepted = response.json()["messages"]
    assert refused["error"] == "forbidden"
    assert _fields(refused) == {"messages[0].from": single.json()["detail"]}
    assert Message.objects.filter(public_id__in=accepted["ids"]).count() == Message.objects.count() == 1


def test_it_accepts_mail_to_a_suppressed_address_and_drops_it_at_delivery_as_the_single_send(
    alice, alice_api, workspace, relay, worker
):
    add_suppression(workspace, "gone@example.net")
    single = alice_api.post(SINGLE, _message(to=["gone@example.net"], workspace=workspace.pk))
    batch = alice_api.post(
        URL, {"messages": [_message(to=["gone@example.net"], workspace=workspace.pk), _message(workspace=workspace.pk)]}
    )
    assert (single.status_code, batch.status_code) == (202, 202)
    (suppressed,), (other,) = (entry["ids"] for entry in batch.json()["messages"])
    worker.run_once()
    statuses = dict(Message.objects.values_list("public_id", "status"))
    assert statuses[uuid.UUID(single.json()["ids"][0])] == statuses[uuid.UUID(suppressed)] == "dropped"
    assert statuses[uuid.UUID(other)] == "sent"
    assert [m.rcpt_tos for m in relay.messages] == [["rcpt@example.net"]]


def test_it_records_sandbox_messages_without_delivering_them(alice_api, relay, worker):
    response = alice_api.post(URL, {"messages": [_message(sandbox=True), _message(sandbox=True, to=["b@example.net"])]})
    assert response.status_code == 202, response.content
    assert worker.run_once() == 0
    assert set(Message.objects.values_list("status", flat=True)) == {"sandbox"}
    assert Event.objects.filter(detail__startswith="sandbox").count() == 2
    assert relay.messages == []


def test_it_schedules_and_attaches_per_message(alice_api):
    later = timezone.now() + timedelta(days=2)
    pdf = base64.b64encode(b"%PDF").decode()
    response = alice_api.post(
        URL,
        {
            "messages": [
                _message(to=["a@example.net"], send_at=later.isoformat()),
                _message(to=["b@example.net"], attachments=[{"filename": "i.pdf", "content": pdf}]),
            ]
        },
    )
    assert response.status_code == 202, response.content
    scheduled, attached = (Message.objects.get(to_email=a) for a in ("a@example.net", "b@example.net"))
    assert abs(scheduled.not_before - later) < timedelta(seconds=1)
    assert attached.not_before <= timezone.now()
    assert [a.filename for a in attached.attachments.all()] == ["i.pdf"] and not scheduled.attachments.exists()


def test_it_sends_each_message_in_its_own_workspace(alice, alice_api, workspace):
    response = alice_api.post(URL, {"messages": [_message(workspace=workspace.pk), _message()]})
    assert response.status_code == 202, response.content
    in_workspace, personal = (Message.objects.get(public_id=e["ids"][0]) for e in response.json()["messages"])
    assert (in_workspace.workspace, in_workspace.organization) == (workspace, workspace.organization)
    assert (personal.workspace, personal.organization) == (None, None)


def test_it_sends_in_the_workspace_of_a_workspace_key(bob, workspace):
    response = api_for(bob, workspace=workspace).post(URL, {"messages": [_message(**{"from": "bob@example.org"})]})
    assert response.status_code == 202, response.content
    assert Message.objects.get().workspace == workspace


def test_it_refuses_the_whole_request_for_a_workspace_the_caller_may_not_send_in(org, workspace, charlie_api):
    dana = User.objects.create_user("dana@example.org", "x" * 20, email_verified=True)
    membership = Membership.objects.create(organization=org, user=dana, role=Role.VIEWER)
    membership.workspaces.add(workspace)
    mine = _message(**{"from": "dana@example.org"})
    response = api_for(dana).post(URL, {"messages": [mine, {**mine, "workspace": workspace.pk}]})
    assert response.status_code == 403
    assert "viewers" in response.json()["detail"]
    response = charlie_api.post(
        URL, {"messages": [_message(**{"from": "charlie@example.net"}), _message(workspace=workspace.pk)]}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_it_needs_the_send_scope(alice):
    response = api_for(alice, scopes=["messages.read"]).post(URL, {"messages": [_message()]})
    assert response.status_code == 403
    assert "messages.send" in response.json()["detail"]


# --- nothing accepted is lost, nothing is accepted twice ----------------------------------------


def test_it_answers_202_only_once_every_accepted_message_is_committed(alice_api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("openesp.messaging.idempotency.remember", broken)
    attachment = [{"filename": "a.txt", "content": base64.b64encode(b"a").decode()}]
    response = _post_with_key(alice_api, {"messages": [_message(attachments=attachment), _message()]}, "k1")
    assert response.status_code == 500
    assert (Message.objects.count(), Event.objects.count(), Attachment.objects.count()) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_it_answers_with_ids_that_are_committed(alice):
    response = api_for(alice).post(URL, {"messages": [_message(), _message(to=["b@example.net"])]})
    assert response.status_code == 202
    ids = {uuid.UUID(i) for entry in response.json()["messages"] for i in entry["ids"]}
    assert set(Message.objects.filter(public_id__in=ids).values_list("public_id", flat=True)) == ids


def test_it_answers_a_repeat_with_the_first_answer_and_creates_nothing(alice_api):
    body = {"messages": [_message(), _message(to=["bad"]), _message(to=["b@example.net"])]}
    first = _post_with_key(alice_api, body, "orders-42")
    assert first.status_code == 202
    again = _post_with_key(alice_api, body, "orders-42")
    assert (again.status_code, again.json()) == (202, first.json())
    assert Message.objects.count() == 2 and Event.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


def test_it_answers_a_racing_repeat_with_the_first_answer(alice_api, monkeypatch):
    body = {"messages": [_message(), _message(to=["b@example.net"])]}
    first = _post_with_key(alice_api, body, "orders-42")
    real, calls = idempotency.recall, []

    def too_early(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(idempotency, "recall", too_early)
    again = _post_with_key(alice_api, body, "orders-42")
    assert len(calls) == 2
    assert (again.status_code, again.json()) == (202, first.json())
    assert Message.objects.count() == 2


def test_it_refuses_a_key_reused_with_a_different_body(alice_api):
    assert _post_with_key(alice_api, {"messages": [_message()]}, "orders-42").status_code == 202
    response = _post_with_key(alice_api, {"messages": [_message(subject="Something else")]}, "orders-42")
    assert response.status_code == 422
    assert _fields(response.json()) == {"Idempotency-Key": "this Idempotency-Key was used with a different request"}
    # A single send is a different request too.
    response = alice_api.client.post(
        SINGLE,
        _message(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_api.key}",
        HTTP_IDEMPOTENCY_KEY="orders-42",
    )
    assert response.status_code == 422
    assert Message.objects.count() == 1


def test_it_remembers_only_an_answer_that_accepted_something(alice_api):
    refused = _post_with_key(alice_api, {"messages": [_message(**{"from": NOT_A_SENDER})]}, "retry-me")
    assert refused.status_code == 202 and refused.json()["messages"][0]["error"] == "forbidden"
    assert not IdempotencyRecord.objects.exists()
    accepted = _post_with_key(alice_api, {"messages": [_message()]}, "retry-me")
    assert accepted.status_code == 202 and "ids" in accepted.json()["messages"][0]
    assert Message.objects.count() == 1


def test_it_refuses_an_unusable_idempotency_key(alice_api):
    response = _post_with_key(alice_api, {"messages": [_message()]}, "x" * 256)
    assert response.status_code == 422
    assert "Idempotency-Key" in _fields(response.json())
    assert not Message.objects.exists()


def test_it_refuses_the_messages_past_ten_thousand_recipients_in_one_request(alice_api):
    # One request is one transaction: its size is bounded by recipients, not only by messages.
    thousand = [f"r{i}@example.net" for i in range(1000)]
    body = {"messages": [_message(to=thousand) for _ in range(10)] + [_message(), _message(to=["x@example.net"])]}
    response = alice_api.post(URL, body)
    assert response.status_code == 202, response.content
    entries = response.json()["messages"]
    assert all(len(entry["ids"]) == 1000 for entry in entries[:10])
    for position in (10, 11):
        reason = "the batch would hold more than 10000 recipients in all; send it in another one"
        assert _fields(entries[position]) == {f"messages[{position}].to": reason}
    assert Message.objects.count() == 10_000

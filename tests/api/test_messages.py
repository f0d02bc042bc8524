"""``/api/v1/messages``: accepting mail, idempotency, reading it back, cancelling it."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.accounts.models import ApiKey, Membership, Role, User
from openesp.messaging import idempotency
from openesp.messaging.models import Attachment, Event, IdempotencyRecord, Message
from openesp.messaging.senders import add_sending_domain
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def _body(**extra):
    body = {"from": "alice@example.org", "to": ["rcpt@example.net"], "subject": "Your order", "text": "Thanks!"}
    body.update(extra)
    return body


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}




# --- accepting ----------------------------------------------------------------------------------


def test_it_accepts_a_message_and_answers_202_with_the_ids(alice, alice_api):
    response = alice_api.post(
        URL,
        _body(
            to=[{"email": "Rcpt@Example.net", "name": "Rita Rcpt"}, "second@example.net"],
            cc=["cc@example.net"],
            bcc=[{"email": "hidden@example.net"}],
            reply_to="help@example.org",
            html="<p>Thanks!</p>",
            headers={"X-Order-Id": "42"},
            tags=["orders"],
            metadata={"order": "42"},
        ),
    )
    assert response.status_code == 202, response.content
    ids = response.json()["ids"]
    messages = {str(m.public_id): m for m in Message.objects.all()}
    assert sorted(ids) == sorted(messages)
    first = messages[ids[0]]
    assert (first.to_email, first.to_name, first.user, first.workspace) == (
        "Rcpt@example.net",
        "Rita Rcpt",
        alice,
        None,
    )
    assert [messages[i].to_email for i in ids[1:]] == ["second@example.net", "cc@example.net", "hidden@example.net"]
    assert (first.status, first.category, first.reply_to) == ("queued", "transactional", "help@example.org")
    assert (first.headers, first.tags, first.metadata) == ({"X-Order-Id": "42"}, ["orders"], {"order": "42"})
    assert "hidden" not in first.visible_to + first.visible_cc


def test_it_sends_in_the_workspace_of_a_workspace_key(bob, workspace):
    response = api_for(bob, workspace=workspace).post(URL, _body(**{"from": "bob@example.org"}))
    assert response.status_code == 202, response.content
    message = Message.objects.get()
    assert (message.workspace, message.organization, message.user) == (workspace, workspace.organization, bob)


def test_it_sends_in_a_workspace_named_by_a_personal_key(alice, alice_api, workspace):
    response = alice_api.post(URL, _body(workspace=workspace.pk))
    assert response.status_code == 202, response.content
    assert Message.objects.get().workspace == workspace


def test_it_refuses_viewers(org, workspace):
    dana = User.objects.create_user("dana@example.org", "x" * 20, email_verified=True)
    membership = Membership.objects.create(organization=org, user=dana, role=Role.VIEWER)
    membership.workspaces.add(workspace)
    response = api_for(dana).post(URL, _body(**{"from": "dana@example.org"}, workspace=workspace.pk))
    assert response.status_code == 403
    assert "viewers" in response.json()["detail"]
    assert not Message.objects.exists()


def test_it_makes_one_message_per_recipient_up_to_1000(alice_api):
    response = alice_api.post(URL, _body(to=[f"r{i}@example.net" for i in range(1000)]))
    assert response.status_code == 202, response.content
    assert len(response.json()["ids"]) == 1000
    assert Message.objects.count() == 1000 and Event.objects.filter(type="queued").count() == 1000

    response = alice_api.post(URL, _body(to=[f"s{i}@example.net" for i in range(1000)], cc=["one@example.net"]))
    assert response.status_code == 422
    assert "at most 1000 recipients" in _fields(response)["to"]
    assert Message.objects.count() == 1000


def test_it_names_the_fields_of_invalid_input(alice_api):
    response = alice_api.post(URL, _body(to=["not-an-address"], subject=" ", send_at="tomorrow", category="system"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid"
    assert set(_fields(response)) == {"to[0]", "subject", "send_at", "category"}

    response = alice_api.post(URL, {"to": ["rcpt@example.net"], "subject": "Hi", "text": "x"})
    assert response.status_code == 422
    assert "from" in _fields(response)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.com"}, "subject"),
        ({"headers": {"X-Order": "1\nBcc: victim@example.com"}}, "headers.X-Order"),
        ({"to": [{"email": "rcpt@example.net", "name": "Rita\r\nBcc: victim@example.com"}]}, "to[0]"),
        (
            {"attachments": [{"filename": "a\r\n.txt", "content": base64.b64encode(b"x").decode()}]},
            "attachments[0]",
        ),
    ],
)
def test_it_refuses_header_injection_with_400(alice_api, change, field):
    response = alice_api.post(URL, _body(**change))
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert _fields(response)[field] == "must not contain line breaks or NUL characters"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reply_to": "a@example.org\x00"}, "reply_to"),
        ({"to": [{"email": "rcpt@example.net", "name": "Rita\x00"}]}, "to[0].name"),
        ({"headers": {"X-Order": "1\x00"}}, "headers.X-Order"),
    ],
)
def test_it_refuses_a_nul_character_with_400_naming_the_field(alice_api, change, field):
    response = alice_api.post(URL, _body(**change))
    assert response.status_code == 400, response.content
    assert _fields(response) == {field: "must not contain the NUL character (U+0000)"}
    assert not Message.objects.exists()


def test_it_refuses_a_header_name_ending_in_a_line_break(alice_api):
    # "$" in a pattern matches before a final newline; a name must be ftext to its very end.
    response = alice_api.post(URL, _body(headers={"X-Order\n": "1"}))
    assert response.status_code == 422, response.content
    assert _fields(response) == {"headers.X-Order\n": "needs a valid header name and a string value"}
    assert not Message.objects.exists()


def test_it_refuses_a_sender_the_caller_may_not_use_with_403_and_the_reason(alice_api):
    response = alice_api.post(URL, _body(**{"from": "ceo@bank.example"}))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert "ceo@bank.example is not a sender you may use" in body["detail"]
    assert not Message.objects.exists()


def test_it_accepts_any_address_at_a_sending_domain_of_the_workspace(alice_api, workspace):
    domain = add_sending_domain("shop.example", workspace)
    domain.verified_at = timezone.now()  # verification itself: tests/delivery/test_domain_verification.py
    domain.save()
    assert alice_api.post(URL, _body(**{"from": "orders@shop.example"})).status_code == 403
    response = alice_api.post(
        URL, _body(**{"from": {"email": "orders@shop.example", "name": "Shop"}}, workspace=workspace.pk)
    )
    assert response.status_code == 202, response.content


def test_it_stores_attachments(alice_api):
    pdf = b"%PDF-1.4 \x00\xff binary"
    response = alice_api.post(
        URL,
        _body(
            to=["a@example.net", "b@example.net"],
            attachments=[
                {"filename": "invoice.pdf", "content": base64.b64encode(pdf).decode(), "type": "application/pdf"},
                {"filename": "logo.png", "content": base64.b64encode(b"PNG").decode(), "content_id": "logo"},
            ],
        ),
    )
    assert response.status_code == 202, response.content
    # Stored once, shared by both recipients' messages.
    assert Attachment.objects.count() == 2
    for message in Message.objects.all():
        stored = list(message.attachments.order_by("id"))
        assert [(a.filename, a.content_type, bytes(a.data), a.content_id) for a in stored] == [
            ("invoice.pdf", "application/pdf", pdf, ""),
            ("logo.png", "application/octet-stream", b"PNG", "logo"),
        ]
    shown = alice_api.get(f"{URL}/{response.json()['ids'][0]}").json()["attachments"]
    assert shown[0] == {"filename": "invoice.pdf", "type": "application/pdf", "size": len(pdf), "content_id": None}

    response = alice_api.post(URL, _body(attachments=[{"filename": "x.bin", "content": "not base64!"}]))
    assert response.status_code == 422
    assert "attachments[0].content" in _fields(response)


def test_it_records_sandbox_messages_without_delivering_them(alice_api, relay, worker):
    response = alice_api.post(URL, _body(sandbox=True))
    assert response.status_code == 202
    assert worker.run_once() == 0
    shown = alice_api.get(f"{URL}/{response.json()['ids'][0]}").json()
    assert shown["status"] == "sandbox"
    assert relay.messages == []


def test_it_refuses_a_body_over_the_limit_with_413(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = base64.b64encode(b"x" * 20_000).decode()
    response = alice_api.post(URL, _body(attachments=[{"filename": "big.bin", "content": big}]))
    assert response.status_code == 413
    assert response.json() == {"error": "too_large", "detail": "the request body is too large"}
    assert not Message.objects.exists()


def test_it_needs_the_send_scope(alice):
    reader = api_for(alice, scopes=["messages.read"])
    response = reader.post(URL, _body())
    assert response.status_code == 403
    assert "messages.send" in response.json()["detail"]
    sender = api_for(alice, scopes=["messages.send"])
    assert sender.get(URL).status_code == 403


def test_it_answers_202_only_once_the_messages_are_committed(alice_api, monkeypatch):
    # A failure after the messages were created inside the transaction leaves nothing behind:
    # the messages, their events and attachments go together or not at all.
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(idempotency, "remember", broken)
    attachment = [{"filename": "a.txt", "content": base64.b64encode(b"a").decode()}]
    response = _post_with_key(alice_api, _body(attachments=attachment), "k1")
    assert response.status_code == 500
    assert (Message.objects.count(), Event.objects.count(), Attachment.objects.count()) == (0, 0, 0)
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_answers_with_ids_that_are_committed(alice):
    # No test transaction around the request here: what the client sees has been committed.
    response = api_for(alice).post(URL, _body(to=["a@example.net", "b@example.net"]))
    assert response.status_code == 202
    ids = {uuid.UUID(i) for i in response.json()["ids"]}
    assert set(Message.objects.filter(public_id__in=ids).values_list("public_id", flat=True)) == ids


# --- idempotency --------------------------------------------------------------------------------


def _post_with_key(api: Api, body, key: str):
    return api.client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_it_answers_a_repeat_with_the_first_answer_and_creates_nothing(alice_api):
    first = _post_with_key(alice_api, _body(to=["a@example.net", "b@example.net"]), "order-42")
    assert first.status_code == 202
    again = _post_with_key(alice_api, _body(to=["a@example.net", "b@example.net"]), "order-42")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert Message.objects.count() == 2 and Event.objects.count() == 2
    key = ApiKey.objects.get(prefix=str(alice_api.key).split("_")[1])
    assert IdempotencyRecord.objects.get().owner == f"apikey:{key.pk}"


def test_it_answers_a_racing_repeat_with_the_first_answer(alice_api, monkeypatch):
    first = _post_with_key(alice_api, _body(), "order-42")
    # The repeat looks before the first has committed, finds nothing, and queues its own
    # messages; storing its answer then collides with the first's, so it is all rolled back.
    real, calls = idempotency.recall, []

    def too_early(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(idempotency, "recall", too_early)
    again = _post_with_key(alice_api, _body(), "order-42")
    assert len(calls) == 2
    assert (again.status_code, again.json()) == (202, first.json())
    assert Message.objects.count() == 1 and Event.objects.count() == 1


def test_it_refuses_a_key_reused_with_a_different_body(alice_api):
    assert _post_with_key(alice_api, _body(), "order-42").status_code == 202
    response = _post_with_key(alice_api, _body(subject="Something else"), "order-42")
    assert response.status_code == 422
    assert _fields(response) == {"Idempotency-Key": "this Idempotency-Key was used with a different request"}
    assert Message.objects.count() == 1


def test_it_keeps_idempotency_keys_apart_per_api_key(alice, alice_api):
    other = api_for(alice)
    assert _post_with_key(alice_api, _body(), "same").status_code == 202
    assert _post_with_key(other, _body(), "same").status_code == 202
    assert Message.objects.count() == 2


def test_it_remembers_only_accepted_requests(alice_api):
    refused = _post_with_key(alice_api, _body(**{"from": "ceo@bank.example"}), "retry-me")
    assert refused.status_code == 403
    accepted = _post_with_key(alice_api, _body(), "retry-me")
    assert accepted.status_code == 202
    assert Message.objects.count() == 1


def test_it_refuses_an_unusable_idempotency_key(alice_api):
    response = _post_with_key(alice_api, _body(), "x" * 256)
    assert response.status_code == 422
    assert "Idempotency-Key" in _fields(response)


# --- reading ------------------------------------------------------------------------------------


def test_it_shows_a_delivered_message_with_its_events(alice_api, relay, worker):
    (message_id,) = alice_api.post(URL, _body(metadata={"order": "42"}, tags=["orders"])).json()["ids"]
    shown = alice_api.get(f"{URL}/{message_id}").json()
    assert shown["status"] == "queued"
    assert [e["type"] for e in shown["events"]] == ["queued"]

    assert worker.run_once() == 1
    assert [m.rcpt_tos for m in relay.messages] == [["rcpt@example.net"]]

    response = alice_api.get(f"{URL}/{message_id}")
    assert response.status_code == 200
    shown = response.json()
    assert shown["id"] == message_id
    assert shown["status"] == "sent"
    assert shown["from"] == {"email": "alice@example.org", "name": ""}
    assert shown["to"] == {"email": "rcpt@example.net", "name": ""}
    assert (shown["subject"], shown["category"], shown["workspace_id"]) == ("Your order", "transactional", None)
    assert (shown["tags"], shown["metadata"]) == (["orders"], {"order": "42"})
    assert shown["attempts"] == 1 and shown["sent_at"] is not None
    assert shown["provider"]["kind"] == "relay" and shown["provider"]["reason"]
    assert shown["last_smtp_code"] == 250 and shown["last_response"]
    sent = shown["events"][-1]
    assert [e["type"] for e in shown["events"]] == ["queued", "sent"]
    assert sent["smtp_code"] == 250 and sent["created_at"]


def test_it_lists_messages_newest_first_with_filters_and_a_cursor(alice, alice_api, bob, workspace):
    ids = []
    for i in range(5):
        ids += alice_api.post(URL, _body(to=[f"r{i}@example.net"], category="reminder" if i == 4 else None)).json()[
            "ids"
        ]
    # Sent in the workspace by bob: alice sees it (she owns the organization), charlie would not.
    (in_workspace,) = api_for(bob).post(URL, _body(**{"from": "bob@example.org"}, workspace=workspace.pk)).json()["ids"]
    Message.objects.filter(public_id=ids[0]).update(created_at=timezone.now() - timedelta(days=3))

    page = alice_api.get(URL, limit=4).json()
    assert [m["id"] for m in page["items"]] == [in_workspace, ids[4], ids[3], ids[2]]
    assert page["next_cursor"]
    rest = alice_api.get(URL, limit=4, cursor=page["next_cursor"]).json()
    assert [m["id"] for m in rest["items"]] == [ids[1], ids[0]] and rest["next_cursor"] is None

    assert [m["id"] for m in alice_api.get(URL, to="R2@example.net").json()["items"]] == [ids[2]]
    assert [m["id"] for m in alice_api.get(URL, category="reminder").json()["items"]] == [ids[4]]
    assert [m["id"] for m in alice_api.get(URL, workspace=workspace.pk).json()["items"]] == [in_workspace]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(alice_api.get(URL, since=since).json()["items"]) == 5
    assert alice_api.get(URL, status="sent").json() == {"items": [], "next_cursor": None}

    # bob sees the workspace's message but not alice's personal mail.
    assert [m["id"] for m in api_for(bob).get(URL).json()["items"]] == [in_workspace]

    response = alice_api.get(URL, status="lost")
    assert response.status_code == 422 and "status" in _fields(response)
    assert "limit" in _fields(alice_api.get(URL, limit=1000))
    assert "cursor" in _fields(alice_api.get(URL, cursor="abc"))


def test_it_hides_personal_mail_from_workspace_keys(alice, alice_api, workspace):
    (personal,) = alice_api.post(URL, _body()).json()["ids"]
    (shared,) = alice_api.post(URL, _body(workspace=workspace.pk)).json()["ids"]
    key = api_for(alice, workspace=workspace)
    assert [m["id"] for m in key.get(URL).json()["items"]] == [shared]
    assert key.get(f"{URL}/{personal}").status_code == 404
    assert key.get(f"{URL}/{shared}").status_code == 200


def test_it_answers_404_for_unknown_and_foreign_messages(alice_api, charlie_api):
    (message_id,) = alice_api.post(URL, _body()).json()["ids"]
    for path in (f"{URL}/{message_id}", f"{URL}/{uuid.uuid4()}", f"{URL}/not-a-uuid"):
        response = charlie_api.get(path) if path.endswith(message_id) else alice_api.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "message not found"}
    assert charlie_api.post(f"{URL}/{message_id}/cancel").status_code == 404
    assert Message.objects.get().status == "queued"


# --- cancelling ---------------------------------------------------------------------------------


def test_it_cancels_a_scheduled_message(alice_api, relay, worker):
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    (message_id,) = alice_api.post(URL, _body(send_at=later)).json()["ids"]
    response = alice_api.post(f"{URL}/{message_id}/cancel")
    assert response.status_code == 200, response.content
    shown = response.json()
    assert shown["status"] == "cancelled"
    assert [e["type"] for e in shown["events"]] == ["queued", "cancelled"]
    # Even once it is due, nothing is sent.
    Message.objects.update(not_before=timezone.now())
    assert worker.run_once() == 0
    assert relay.messages == []

    again = alice_api.post(f"{URL}/{message_id}/cancel")
    assert again.status_code == 409
    assert again.json() == {
        "error": "conflict",
        "detail": "the message is cancelled already and can no longer be cancelled",
    }


def test_it_refuses_to_cancel_a_message_sent_or_being_sent(alice_api, relay, worker):
    (sent_id, sending_id) = alice_api.post(URL, _body(to=["a@example.net", "b@example.net"])).json()["ids"]
    Message.objects.filter(public_id=sending_id).update(not_before=timezone.now() + timedelta(hours=1))
    assert worker.run_once() == 1
    response = alice_api.post(f"{URL}/{sent_id}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == "the message is sent already and can no longer be cancelled"

    # Claimed by a worker: it is on its way and cannot be called back.
    Message.objects.filter(public_id=sending_id).update(status="sending", lease_owner="w")
    response = alice_api.post(f"{URL}/{sending_id}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == "the message is being sent and can no longer be cancelled"
    assert not Event.objects.filter(type="cancelled").exists()


def test_time_filters_with_far_zones_and_years_are_read_or_refused_by_name(alice):
    """Any offset ISO 8601 allows (PostgreSQL refuses displacements past ±15:59 in a literal)
    and the edges of the calendar: an answer or a 422 naming the field, never a 500."""
    alice_api = api_for(alice)
    (sent,) = alice_api.post(URL, _body()).json()["ids"]
    assert [m["id"] for m in alice_api.get(URL, until="8645-11-05T23:17:26-16:30").json()["items"]] == [sent]
    assert alice_api.get(URL, since="8645-11-05T23:17:26+23:59").json()["items"] == []
    assert [m["id"] for m in alice_api.get(URL, since="1705-01-09T21:36:50.8-15:04").json()["items"]] == [sent]
    for name, value in (("until", "9999-12-31T23:59:59-23:59"), ("since", "0001-01-01T00:00:00+23:59")):
        response = alice_api.get(URL, **{name: value})
        assert response.status_code == 422 and name in _fields(response), (name, response.content)

"""The delivery worker against real local servers: SMTP (aiosmtpd), SendGrid and Mailjet."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import dkim
import pytest
from django.utils import timezone

from openesp.audience.models import Suppression
from openesp.delivery.domains import add_dkim_key
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Event, Message
from openesp.messaging.senders import add_sending_domain
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker():
    w = Worker("test-worker", pool_size=2)
    yield w
    w.close()


def _smtp_config(owner: dict, server, **extra) -> EspConfig:
    config = EspConfig(
        kind="smtp",
        host=server.host,
        port=server.port,
        security=server.security,
        from_email="mailer@acme.example",
        username=server.username,
        **owner,
        **extra,
    )
    config.set_password(server.password)
    config.save()
    return config


def _send(actor, n=1, workspace=None, organization=None, **body) -> list[Message]:
    data = {
        "from": actor.email,
        "to": [f"r{i}@example.net" for i in range(n)],
        "subject": "Hello",
        "text": "Plain body",
        "html": "<p>HTML body</p>",
    }
    data.update(body)
    return submit(actor, parse_submission(data), workspace=workspace, organization=organization)


def test_it_sends_through_a_custom_smtp_server_with_pooled_signed_connections(
    alice, org, workspace, smtp_server, worker
):
    _smtp_config({"user": alice}, smtp_server)
    _record, key = add_dkim_key(add_sending_domain("acme.example"), algorithm="ed25519", selector="s1")
    messages = _send(
        alice,
        5,
        workspace=workspace,
        reply_to="help@acme.example",
        headers={"X-Campaign": "spring"},
        attachments=[{"filename": "report.pdf", "content": "JVBERi0xLjQK", "type": "application/pdf"}],
    )
    assert worker.run_once() == 5
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    received = smtp_server.messages
    assert sorted(r.rcpt_tos[0] for r in received) == [f"r{i}@example.net" for i in range(5)]
    assert all(r.tls and r.authenticated_as == "mailer" for r in received)
    # Five messages over at most two connections (the pool size): sessions are reused.
    assert len({r.peer for r in received}) <= 2
    raw = received[0].data
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "mailer@acme.example"  # the custom server's own From address
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain body"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    assert (parsed["Reply-To"], parsed["X-Campaign"]) == ("help@acme.example", "spring")
    (attachment,) = parsed.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content()) == ("report.pdf", b"%PDF-1.4\n")
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: key.dns_record().encode())
    sent = Message.objects.get(pk=messages[0].pk)
    assert (sent.provider_kind, sent.provider_reason, sent.last_smtp_code) == ("smtp", "your personal setting", 250)
    event = Event.objects.get(message=sent, type="sent")
    assert (event.smtp_code, event.enhanced_status) == (250, "2.0.0")


def test_it_sends_through_sendgrid(alice, org, workspace, sendgrid_server, worker):
    EspConfig.objects.create(organization=org, kind="sendgrid")
    _send(alice, 3, workspace=workspace, metadata={"order": "7"})
    worker.run_once()
    assert set(Message.objects.values_list("status", "provider_kind")) == {("sent", "sendgrid")}
    assert len(sendgrid_server.requests) >= 3
    body = sendgrid_server.requests[-1].json()
    assert body["custom_args"]["order"] == "7"
    assert "openesp_message_id" in body["custom_args"]
    assert all(m.provider_message_id for m in Message.objects.all())


def test_it_batches_mailjet_calls(alice, org, workspace, mailjet_server, worker):
    EspConfig.objects.create(user=alice, kind="mailjet")
    _send(alice, 60, workspace=workspace)
    worker.run_once()
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    send_calls = [r for r in mailjet_server.requests if r.path == "/v3.1/send"]
    assert [len(r.json()["Messages"]) for r in send_calls] == [50, 10]


def test_it_bounces_and_suppresses_a_refused_recipient(alice, workspace, smtp_server, worker):
    _smtp_config({"user": alice}, smtp_server)
    smtp_server.refuse_recipient("r0@example.net")
    _send(alice, 2, workspace=workspace)
    worker.run_once()
    bounced = Message.objects.get(to_email="r0@example.net")
    assert (bounced.status, bounced.last_smtp_code) == ("bounced", 550)
    event = Event.objects.get(message=bounced, type="bounced")
    assert (event.smtp_code, event.enhanced_status, event.data["bounce"]) == (550, "5.1.1", "hard")
    assert Message.objects.get(to_email="r1@example.net").status == "sent"
    assert Suppression.objects.filter(workspace=workspace, email="r0@example.net", reason="hard_bounce").exists()
    # Later mail to the address is dropped, not sent.
    (later,) = _send(alice, 1, workspace=workspace)
    worker.run_once()
    later.refresh_from_db()
    assert later.status == "dropped"
    assert Event.objects.filter(message=later, type="dropped", detail__contains="hard_bounce").exists()


def test_it_defers_on_a_wrong_password(alice, smtp_server, worker):
    config = _smtp_config({"user": alice}, smtp_server)
    config.set_password("wrong")
    config.save()
    (message,) = _send(alice)
    worker.run_once()
    message.refresh_from_db()
    assert message.status == "deferred"
    assert message.not_before > timezone.now() + timedelta(seconds=30)
    event = Event.objects.get(message=message, type="deferred")
    assert event.smtp_code == 535 and event.data["step"] == "auth"


def test_it_routes_at_send_time(alice, org, workspace, smtp_server, sendgrid_server, worker):
    _smtp_config({"user": alice}, smtp_server)
    (message,) = _send(alice, workspace=workspace, organization=org)
    # The organization enforces SendGrid after the message was queued.
    EspConfig.objects.create(organization=org, kind="sendgrid", enforced=True)
    worker.run_once()
    message.refresh_from_db()
    assert message.provider_kind == "sendgrid"
    assert message.provider_reason == "enforced by organization Acme"
    assert smtp_server.messages == []


def test_it_gives_up_after_the_lifetime(alice, settings, worker):
    settings.OPENESP_SENDGRID_API_KEY = settings.OPENESP_MAILJET_API_KEY = ""
    settings.OPENESP_DEFAULT_PROVIDER = ""
    (message,) = _send(alice)
    worker.run_once()
    message.refresh_from_db()
    assert message.status == "deferred"
    assert "no provider is configured" in message.last_response
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(days=6), not_before=timezone.now()
    )
    worker.run_once()
    message.refresh_from_db()
    assert message.status == "bounced"
    assert Event.objects.get(message=message, type="bounced").data["bounce"] == "expired"


def test_it_sends_system_mail_to_suppressed_addresses(alice, org, smtp_server, worker):
    from openesp.accounts.actions import send_password_reset_mail

    _smtp_config({"user": alice}, smtp_server)
    Suppression.objects.create(email="alice@example.org", reason="manual")
    message = send_password_reset_mail(alice.email)
    assert message is not None
    worker.run_once()
    message.refresh_from_db()
    assert message.status == "sent"


def test_it_holds_to_the_configured_rate(alice, workspace, smtp_server, worker):
    _smtp_config({"user": alice}, smtp_server, max_per_second=2, max_connections=1)
    _send(alice, 5, workspace=workspace)
    worker.run_once()
    statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == ["queued", "queued", "queued", "sent", "sent"]
    held = Message.objects.filter(status="queued")
    # Held back is not an attempt, and it comes back when the bucket has refilled.
    assert {m.attempts for m in held} == {0}
    assert all(m.not_before > timezone.now() for m in held)
    assert not Event.objects.filter(type="deferred").exists()
    # One connection at most, for all workers together.
    assert len({r.peer for r in smtp_server.messages}) == 1


def test_it_waits_when_other_workers_hold_every_connection(alice, smtp_server, worker):
    from openesp.lib.ratelimit import acquire_slots

    config = _smtp_config({"user": alice}, smtp_server, max_connections=2)
    assert acquire_slots(f"smtp:{config.pk}", "another-worker", 2, 2, ttl=60) == 2
    _send(alice, 2)
    worker.run_once()
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}
    assert smtp_server.messages == []


ATTACHED = {
    "reply_to": "help@example.org",
    "headers": {"X-Campaign": "spring"},
    "attachments": [
        {"filename": "report.pdf", "content": "JVBERi0xLjQK", "type": "application/pdf"},
        {"filename": "logo.png", "content": "iVBORw0KGgo=", "type": "image/png", "content_id": "logo"},
    ],
}


def test_it_passes_everything_to_sendgrid(alice, sendgrid_server, worker):
    EspConfig.objects.create(user=alice, kind="sendgrid")
    _send(alice, 1, text="", html="<p>Only <b>HTML</b></p>", **ATTACHED)
    worker.run_once()
    assert Message.objects.get().status == "sent"
    body = sendgrid_server.requests_to("POST", "/v3/mail/send")[-1].json()  # validated against the spec
    assert body["reply_to"] == {"email": "help@example.org"}
    assert body["headers"]["X-Campaign"] == "spring"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][0]["value"].strip() == "Only HTML"
    assert [(a["filename"], a["disposition"]) for a in body["attachments"]] == [
        ("report.pdf", "attachment"),
        ("logo.png", "inline"),
    ]
    assert body["attachments"][1]["content_id"] == "logo"


def test_it_passes_everything_to_mailjet(alice, mailjet_server, worker):
    EspConfig.objects.create(user=alice, kind="mailjet")
    _send(alice, 1, **ATTACHED)
    worker.run_once()
    assert Message.objects.get().status == "sent"
    (item,) = mailjet_server.requests_to("POST", "/v3.1/send")[-1].json()["Messages"]
    assert item["ReplyTo"] == {"Email": "help@example.org"}
    assert item["Headers"]["X-Campaign"] == "spring"
    assert item["Attachments"][0]["Filename"] == "report.pdf"
    assert item["InlinedAttachments"][0]["ContentID"] == "logo"
    assert item["CustomID"].startswith(str(Message.objects.get().public_id))


def test_it_renders_and_signs_in_build_processes(alice, workspace, smtp_server):
    _smtp_config({"user": alice}, smtp_server)
    _record, key = add_dkim_key(add_sending_domain("acme.example"), algorithm="rsa", selector="s1")
    _send(alice, 30, workspace=workspace)
    worker = Worker("build-processes", build_processes=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert len(smtp_server.messages) == 30
    assert all(
        dkim.verify(r.data, dnsfunc=lambda name, timeout=5: key.dns_record().encode()) for r in smtp_server.messages
    )


def test_it_sends_transactional_mail_to_an_address_that_only_unsubscribed(alice, workspace, smtp_server, worker):
    _smtp_config({"user": alice}, smtp_server)
    Suppression.objects.create(workspace=workspace, email="r0@example.net", reason="unsubscribe")
    Suppression.objects.create(workspace=workspace, email="r1@example.net", reason="hard_bounce")
    _send(alice, 2, workspace=workspace)  # transactional
    _send(alice, 1, workspace=workspace, category="invitation")  # r0 again, bulk
    worker.run_once()
    statuses = sorted(Message.objects.values_list("to_email", "category", "status"))
    assert statuses == [
        ("r0@example.net", "invitation", "dropped"),
        ("r0@example.net", "transactional", "sent"),
        ("r1@example.net", "transactional", "dropped"),
    ]

"""Bounces for custom SMTP: a VERP return path per message, the inbound MX that takes bounce
mail only for valid VERP addresses, and the end-to-end case — a message through a customer's
SMTP server, a DSN sent back later to openesp's MX port, the message bounced and suppressed."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator

import pytest

from openesp.audience.models import Suppression
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.events.models import InboxBatch, InboxEvent, State
from openesp.events.mx import start_mx
from openesp.events.verp import bounce_address, read, return_path
from openesp.messaging.models import Event, Message
from openesp.messaging.submit import parse_submission, submit
from tests.events.conftest import process_all, sent
from tests.events.corpus import bounce_mail
from tests.servers.smtp import LOOPBACK, closed_port

pytestmark = pytest.mark.django_db(transaction=True)
DOMAIN = "bounces.openesp.test"


@pytest.fixture
def bounce_domain(settings) -> str:
    settings.OPENESP_BOUNCE_DOMAIN = DOMAIN
    return DOMAIN


@pytest.fixture
def mx(bounce_domain) -> Iterator[int]:
    port = closed_port()
    controller = start_mx(LOOPBACK, port)
    yield port
    controller.stop()


def _deliver(port: int, rcpt: str, raw: bytes) -> None:
    with smtplib.SMTP(LOOPBACK, port, timeout=60) as client:
        client.sendmail("", [rcpt], raw)


def test_a_verp_address_names_its_message_and_a_forged_one_nothing(bounce_domain):
    public_id = uuid.uuid4()
    address = bounce_address(public_id)
    local = address.partition("@")[0]
    assert address.endswith(f"@{DOMAIN}") and len(local) <= 64
    assert read(address) == public_id
    assert read(address.upper()) == public_id  # some servers change the case of the local part
    assert read(f"<{address}>") == public_id
    forged = local[:-1] + ("0" if local[-1] != "0" else "1")
    assert read(f"{forged}@{DOMAIN}") is None
    other_id = uuid.uuid4().hex
    assert read(f"b+{other_id}.{local.rpartition('.')[2]}@{DOMAIN}") is None  # a valid HMAC of another id
    assert read(address.replace(DOMAIN, "elsewhere.test")) is None
    assert return_path(public_id, "mailer@acme.example") == address


def test_without_a_bounce_domain_the_sender_stays_the_return_path(settings):
    settings.OPENESP_BOUNCE_DOMAIN = ""
    assert return_path(uuid.uuid4(), "mailer@acme.example") == "mailer@acme.example"
    assert read(f"b+{uuid.uuid4().hex}.0123456789abcdef@x.test") is None


def test_the_mx_refuses_recipients_that_are_not_valid_verp_addresses(mx, alice, workspace):
    message = sent(alice, workspace, ["nobody@example.net"], "smtp")[0]
    good = bounce_address(message.public_id)
    local, _, domain = good.partition("@")
    forged = f"{local[:-4]}beef@{domain}"
    with smtplib.SMTP(LOOPBACK, mx, timeout=60) as client:
        client.ehlo()
        assert "auth" not in client.esmtp_features  # bounces arrive unauthenticated
        client.mail("")
        assert client.rcpt(forged)[0] == 550
        assert client.rcpt("postmaster@" + DOMAIN)[0] == 550
        assert client.rcpt(f"{local}@elsewhere.test")[0] == 550
        assert client.rcpt(good)[0] == 250
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _deliver(mx, forged, bounce_mail("postfix_user_unknown.eml", verp=forged, rcpt="nobody@example.net"))
    assert not InboxBatch.objects.exists()
    assert not Suppression.objects.exists()


def test_a_stored_mail_with_a_forged_verp_address_changes_nothing(bounce_domain, alice, workspace):
    # Past the MX (say, a row stored before the secret changed): the processor checks again.
    from openesp.events.inbox import store_mail

    message = sent(alice, workspace, ["nobody@example.net"], "smtp")[0]
    forged = bounce_address(message.public_id).replace(".", ".f", 1)[: -len(DOMAIN) - 1] + "@" + DOMAIN
    store_mail([forged], bounce_mail("postfix_user_unknown.eml", verp=forged, rcpt="nobody@example.net"))
    process_all()
    assert InboxEvent.objects.get().state == State.MALFORMED
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert not Suppression.objects.exists()


def _custom_smtp(alice, server) -> EspConfig:
    config = EspConfig(
        kind="smtp", host=server.host, port=server.port, security=server.security,
        from_email="mailer@acme.example", username=server.username, user=alice,
    )  # fmt: skip
    config.set_password(server.password)
    config.save()
    return config


def test_a_dsn_returned_to_the_mx_bounces_the_message_and_suppresses_the_address(mx, alice, workspace, smtp_server):
    config = _custom_smtp(alice, smtp_server)
    (message,) = submit(
        alice,
        parse_submission({"from": alice.email, "to": ["gone@example.net"], "subject": "Hello", "text": "Hi"}),
        workspace=workspace,
    )
    worker = Worker("events-worker", pool_size=1)
    try:
        worker.run_once()
        message.refresh_from_db()
        assert message.status == "sent"
        # The customer's server took the mail with our VERP address as the envelope sender.
        (received,) = smtp_server.messages
        assert read(received.mail_from) == message.public_id
        assert received.mail_from.endswith(f"@{DOMAIN}")
        # Later, the receiving server sends a DSN back to that address, on openesp's MX port.
        dsn = bounce_mail(
            "postfix_user_unknown.eml", verp=received.mail_from, rcpt="gone@example.net",
            msgid=f"{message.public_id}@openesp.test",
        )  # fmt: skip
        _deliver(mx, received.mail_from, dsn)
        _deliver(mx, received.mail_from, dsn)  # the same DSN twice (a retry after a lost 250)
        assert InboxBatch.objects.filter(state="pending").count() == 2  # stored as they came
        worker.run_once()  # the worker works off the inbox between claims
    finally:
        worker.close()
    message.refresh_from_db()
    assert message.status == "bounced"
    assert InboxEvent.objects.count() == 1  # the second copy was a duplicate
    assert sorted(InboxBatch.objects.values_list("state", "duplicates")) == [("done", 0), ("done", 1)]
    assert (message.last_smtp_code, message.last_response[:9]) == (550, "550 5.1.1")
    bounce = Event.objects.get(message=message, type="bounced")
    assert (bounce.enhanced_status, bounce.smtp_code) == ("5.1.1", 550)
    assert bounce.data == {"provider": "mx", "event_id": bounce.data["event_id"], "report": "dsn", "action": "failed",
                           "bounce": "hard"}  # fmt: skip
    suppression = Suppression.objects.get(workspace=workspace)
    assert (suppression.email, suppression.reason, suppression.source_event_id) == (
        "gone@example.net",
        "hard_bounce",
        bounce.pk,
    )
    assert EspConfig.objects.get(pk=config.pk).sender_problem == ""


def test_a_policy_bounce_is_noted_on_the_provider_config_and_suppresses_no_one(mx, alice, workspace, smtp_server):
    config = _custom_smtp(alice, smtp_server)
    message = sent(alice, workspace, ["someone@example.net"], "smtp")[0]
    Message.objects.filter(pk=message.pk).update(provider_config=config)
    verp = bounce_address(message.public_id)
    _deliver(mx, verp, bounce_mail("gmail_policy.eml", verp=verp, rcpt="someone@example.net"))
    process_all()
    assert Message.objects.get(pk=message.pk).status == "bounced"
    assert Event.objects.get(message=message, type="bounced").data["bounce"] == "sender"
    assert not Suppression.objects.exists()
    config.refresh_from_db()
    assert config.sender_problem.startswith("5.7.26 550-5.7.26 Unauthenticated email from acme.example")
    assert config.sender_problem_at is not None


def test_soft_bounces_suppress_after_the_limit_within_the_window(mx, settings, alice, workspace):
    settings.OPENESP_SOFT_BOUNCE_LIMIT = 3
    messages = sent(alice, workspace, ["full@example.net"] * 1, "smtp")
    messages += sent(alice, workspace, ["full@example.net"], "smtp") + sent(
        alice, workspace, ["full@example.net"], "smtp"
    )
    for n, message in enumerate(messages, 1):
        verp = bounce_address(message.public_id)
        _deliver(mx, verp, bounce_mail("gmail_quota.eml", verp=verp, rcpt="full@example.net"))
        process_all()
        assert Message.objects.get(pk=message.pk).status == "bounced"
        assert Suppression.objects.filter(email="full@example.net").exists() == (n == 3)
    assert "3 soft bounces within 7 days" in Suppression.objects.get().detail


def test_a_delay_notice_is_a_deferred_event_only(mx, alice, workspace):
    message = sent(alice, workspace, ["slow@example.net"], "smtp")[0]
    verp = bounce_address(message.public_id)
    _deliver(mx, verp, bounce_mail("postfix_delayed.eml", verp=verp, rcpt="slow@example.net"))
    process_all()
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert Event.objects.get(message=message, type="deferred").enhanced_status == "4.4.1"


def test_an_arf_report_to_the_mx_is_a_complaint(mx, alice, workspace):
    message = sent(alice, workspace, ["angry@example.net"], "smtp")[0]
    verp = bounce_address(message.public_id)
    _deliver(mx, verp, bounce_mail("arf_abuse.eml", verp=verp, rcpt="angry@example.net"))
    process_all()
    assert Event.objects.filter(message=message, type="complained").exists()
    assert Suppression.objects.get().reason == "complaint"


def test_mail_that_is_no_bounce_is_kept_and_ignored(mx, alice, workspace):
    message = sent(alice, workspace, ["away@example.net"], "smtp")[0]
    verp = bounce_address(message.public_id)
    _deliver(mx, verp, bounce_mail("autoreply_not_bounce.eml", verp=verp))
    process_all()
    row = InboxEvent.objects.get()
    assert (row.state, row.reason) == ("ignored", "no bounce or complaint found in this mail")
    assert Message.objects.get(pk=message.pk).status == "sent"


@pytest.mark.parametrize(("language", "label"), [("en", "Sender problem"), ("sv", "Avsändarproblem")])
def test_the_provider_page_shows_the_sender_problem(alice, smtp_server, language, label):
    from django.test import Client
    from django.utils import timezone

    config = _custom_smtp(alice, smtp_server)
    EspConfig.objects.filter(pk=config.pk).update(
        sender_problem="5.7.26 550-5.7.26 Unauthenticated email is not accepted", sender_problem_at=timezone.now()
    )
    client = Client(headers={"accept-language": language})
    client.force_login(alice)
    page = client.get("/account/email/").content.decode()
    assert label in page
    assert "5.7.26 550-5.7.26 Unauthenticated email is not accepted" in page

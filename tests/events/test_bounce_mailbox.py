"""The bounce mailbox of a custom SMTP configuration: a real IMAP server (dovecot) on loopback,
bounce mail put into it as a mail server would leave it, the poller the workers run, and the
inbox processing that follows.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from openesp.audience.models import Suppression
from openesp.delivery.worker import Worker
from openesp.esp.bouncemailbox import MailboxInput, save_bounce_mailbox, test_bounce_mailbox
from openesp.esp.imap import folder_name
from openesp.esp.models import EspConfig
from openesp.events.mailbox import poll_due
from openesp.events.models import InboxBatch, InboxEvent, State
from openesp.events.verp import bounce_address
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Event, Message
from tests.events.conftest import process_all, sent
from tests.events.corpus import bounce_mail
from tests.servers.imap import ImapTestServer

pytestmark = pytest.mark.django_db(transaction=True)
SENDER = "mailer@acme.example"
DOMAIN = "bounces.openesp.test"


@pytest.fixture
def dovecot(imap_server: ImapTestServer) -> ImapTestServer:
    return imap_server


def _config(owner, server: ImapTestServer, **imap: object) -> EspConfig:
    config = EspConfig(kind="smtp", host="smtp.acme.example", port=587, security="starttls", from_email=SENDER,
                       user=owner, imap_enabled=True, imap_host=server.host, imap_port=server.tls_port,
                       imap_security="tls", imap_username=server.username, imap_folder="INBOX")  # fmt: skip
    for name, value in imap.items():
        setattr(config, name, value)
    config.set_imap_password(str(imap.get("password", server.password)))
    config.save()
    return config


def _sent_through(config: EspConfig, alice, workspace, address: str) -> Message:
    message = sent(alice, workspace, [address], "smtp")[0]
    Message.objects.filter(pk=message.pk).update(provider_config=config)
    return Message.objects.get(pk=message.pk)


def _our_message_id(message: Message) -> str:
    return f"{message.public_id}@{django_settings.OPENESP_MAIL_DOMAIN}"


def _poll() -> int:
    """Poll every due mailbox once; bounces stored."""
    return sum(p.stored for p in poll_due(limit=10))


def test_a_dsn_in_the_mailbox_bounces_the_message_and_suppresses_the_address(dovecot, alice, workspace):
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "gone@example.net")
    # Returned to the From address (the server does not use our VERP return path): matched by
    # our Message-ID in the returned headers.
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="gone@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    dovecot.append(bounce_mail("autoreply_not_bounce.eml", verp=SENDER))  # not a bounce: not stored, left unseen
    assert _poll() == 1
    process_all()
    message.refresh_from_db()
    assert message.status == "bounced"
    assert (message.last_smtp_code, message.last_response[:9]) == (550, "550 5.1.1")
    bounce = Event.objects.get(message=message, type="bounced")
    assert (bounce.enhanced_status, bounce.data["provider"], bounce.data["matched_by"]) == (
        "5.1.1",
        "imap",
        "message-id",
    )
    assert bounce.data["bounce"] == "hard"
    assert Suppression.objects.get(workspace=workspace).email == "gone@example.net"
    # The bounce is marked seen on the server; the other mail is left as it was.
    flags = dovecot.flags()
    assert "\\Seen" in flags[0] and "\\Seen" not in flags[1]
    config.refresh_from_db()
    assert (config.imap_error, config.imap_last_read, config.imap_last_stored) == ("", 2, 1)
    assert config.imap_polled_at is not None and config.imap_next_poll_at > timezone.now()


def test_a_second_poll_does_nothing_twice_and_new_mail_is_read(dovecot, alice, workspace):
    config = _config(alice, dovecot)
    first = _sent_through(config, alice, workspace, "one@example.net")
    second = _sent_through(config, alice, workspace, "two@example.net")
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="one@example.net",
                               msgid=_our_message_id(first)))  # fmt: skip
    assert _poll() == 1
    assert _poll() == 0  # not due yet
    EspConfig.objects.filter(pk=config.pk).update(imap_next_poll_at=timezone.now())
    assert _poll() == 0  # due, but nothing new
    assert poll_due(limit=10) == []  # not due again
    # The watermark lost (as after a crash before it was written): the mail is read and stored
    # again, and processing counts it once (a duplicate of the first).
    EspConfig.objects.filter(pk=config.pk).update(imap_next_poll_at=None, imap_last_uid=0, imap_uid_validity=None)
    assert _poll() == 1
    assert EspConfig.objects.get(pk=config.pk).imap_last_read == 1
    dovecot.append(bounce_mail("exim_dsn.eml", verp=SENDER, rcpt="two@example.net", msgid=_our_message_id(second)))
    EspConfig.objects.filter(pk=config.pk).update(imap_next_poll_at=timezone.now())
    assert _poll() == 1
    process_all()
    process_all()
    assert InboxEvent.objects.count() == 2
    assert sum(InboxBatch.objects.values_list("duplicates", flat=True)) == 1
    assert Event.objects.filter(type="bounced").count() == 2
    assert set(Suppression.objects.values_list("email", flat=True)) == {"one@example.net", "two@example.net"}


def test_a_soft_bounce_does_not_suppress(dovecot, settings, alice, workspace):
    settings.OPENESP_BOUNCE_DOMAIN = DOMAIN
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "full@example.net")
    # A VERP address of ours in the mail (here: the DSN's To) names the message.
    verp = bounce_address(message.public_id)
    dovecot.append(bounce_mail("gmail_quota.eml", verp=verp, rcpt="full@example.net"))
    assert _poll() == 1
    process_all()
    event = Event.objects.get(message=message, type="bounced")
    assert (event.data["bounce"], event.data["matched_by"]) == ("soft", "verp")
    assert not Suppression.objects.exists()


def test_a_policy_block_is_noted_on_the_configuration_and_suppresses_no_one(dovecot, alice, workspace):
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "someone@example.net")
    dovecot.append(bounce_mail("gmail_policy.eml", verp=SENDER, rcpt="someone@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    assert _poll() == 1
    process_all()
    assert Event.objects.get(message=message, type="bounced").data["bounce"] == "sender"
    assert not Suppression.objects.exists()
    config.refresh_from_db()
    assert config.sender_problem.startswith("5.7.26")


def test_forged_or_unknown_references_change_nothing(dovecot, settings, alice, workspace, bob):
    settings.OPENESP_BOUNCE_DOMAIN = DOMAIN
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "victim@example.net")
    verp = bounce_address(message.public_id)
    local = verp.partition("@")[0]
    forged = f"{local[:-4]}beef@{DOMAIN}"
    # A forged VERP address (even with our Message-ID beside it), an unknown Message-ID, a
    # Message-ID of ours for another recipient, and one of mail sent through another config.
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=forged, rcpt="victim@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    unknown = f"00000000-0000-4000-8000-000000000000@{django_settings.OPENESP_MAIL_DOMAIN}"
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="victim@example.net", msgid=unknown))
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="other@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    other_config = EspConfig.objects.create(kind="smtp", host="smtp.other.example", user=bob, from_email=SENDER)
    elsewhere = _sent_through(other_config, alice, workspace, "elsewhere@example.net")
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="elsewhere@example.net",
                               msgid=_our_message_id(elsewhere)))  # fmt: skip
    assert _poll() == 4
    process_all()
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {State.UNMATCHED}
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert not Event.objects.filter(type="bounced").exists()
    assert not Suppression.objects.exists()


def test_bad_credentials_are_recorded_on_the_configuration(dovecot, alice):
    config = _config(alice, dovecot, password="wrong-password")
    (polled,) = poll_due()
    assert polled.error.startswith("the server refused the user name or password")
    config.refresh_from_db()
    assert config.imap_error.startswith("the server refused the user name or password")
    assert "wrong-password" not in config.imap_error and config.imap_error_at is not None
    assert config.imap_next_poll_at > timezone.now()  # polled again later, not at once
    result = test_bounce_mailbox(config, None, tester_email=alice.email)
    assert (result.ok, result.step) == (False, "auth")


def test_a_refused_connection_and_a_missing_folder_are_recorded(dovecot, alice, bob):
    from tests.servers.smtp import closed_port

    config = _config(alice, dovecot, imap_port=closed_port())
    missing = _config(bob, dovecot, imap_folder="Bounces")
    results = {p.config_id: p.error for p in poll_due(limit=2)}
    assert "refused the connection" in results[config.pk]
    assert "Bounces" in results[missing.pk]
    assert "refused the connection" in EspConfig.objects.get(pk=config.pk).imap_error


def test_starttls_and_another_folder(dovecot, alice, workspace):
    config = _config(alice, dovecot, imap_port=dovecot.starttls_port, imap_security="starttls", imap_folder="Bounces")
    message = _sent_through(config, alice, workspace, "gone@example.net")
    dovecot.append(bounce_mail("exchange_ndr.eml", verp=SENDER, rcpt="gone@example.net",
                               msgid=_our_message_id(message)), folder="Bounces")  # fmt: skip
    assert _poll() == 1
    process_all()
    assert Message.objects.get(pk=message.pk).status == "bounced"
    ok = test_bounce_mailbox(config, None, tester_email=alice.email)
    assert (ok.ok, ok.step) == (True, "done") and "holds 1 messages" in ok.detail


def test_the_worker_polls_due_mailboxes_between_claims(dovecot, alice, workspace):
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "gone@example.net")
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="gone@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    worker = Worker("imap-worker", pool_size=1)
    try:
        worker.run(threading.Event(), until_empty=True)
    finally:
        worker.close()
    assert Message.objects.get(pk=message.pk).status == "bounced"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_two_pollers_racing_poll_a_mailbox_once(dovecot, alice, workspace):
    config = _config(alice, dovecot)
    message = _sent_through(config, alice, workspace, "gone@example.net")
    dovecot.append(bounce_mail("postfix_user_unknown.eml", verp=SENDER, rcpt="gone@example.net",
                               msgid=_our_message_id(message)))  # fmt: skip
    barrier = threading.Barrier(2)
    results: list[int] = []
    now = timezone.now() + timedelta(seconds=1)

    def racer() -> None:
        try:
            barrier.wait(timeout=60)
            results.append(len(poll_due(now=now, limit=10)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [0, 1]
    assert InboxBatch.objects.count() == 1  # one poll stored the mail once
    assert EspConfig.objects.get(pk=config.pk).imap_last_read == 1


def test_the_settings_are_validated_and_the_password_kept_encrypted(alice, settings):
    config = EspConfig.objects.create(kind="smtp", host="smtp.acme.example", user=alice, from_email=SENDER)
    with pytest.raises(InvalidInput) as refused:
        save_bounce_mailbox(
            alice, config, MailboxInput(host="imap.gmail.com", security="none", username="u", password="p")
        )
    assert [p.field for p in refused.value.problems] == ["security"]
    saved = save_bounce_mailbox(
        alice, config, MailboxInput(host="imap.gmail.com", username="me@gmail.com", password="s3cret-imap")
    )
    assert (saved.imap_port, saved.imap_security, saved.imap_folder) == (993, "tls", "INBOX")  # consumer hosts are fine
    assert "s3cret-imap" not in saved.imap_password_encrypted and saved.get_imap_password() == "s3cret-imap"
    assert (
        save_bounce_mailbox(
            alice, config, MailboxInput(host="imap.gmail.com", port=143, username="me@gmail.com")
        ).imap_security
        == "starttls"
    )
    with pytest.raises(InvalidInput) as moved:  # the stored password is not sent to another host
        save_bounce_mailbox(alice, config, MailboxInput(host="imap.other.example", username="me@gmail.com"))
    assert [p.field for p in moved.value.problems] == ["password"]
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = False
    with pytest.raises(InvalidInput) as guarded:
        save_bounce_mailbox(alice, config, MailboxInput(host="127.0.0.1", port=2525, username="u", password="p"))
    assert {p.field for p in guarded.value.problems} == {"host", "port"}


def test_folder_names_are_quoted_in_modified_utf7():
    assert folder_name("INBOX") == '"INBOX"'
    assert folder_name("Studsar/Skräp") == '"Studsar/Skr&AOQ-p"'
    assert folder_name('A & "B"') == '"A &- \\"B\\""'


def test_choosing_a_standard_provider_drops_the_mailbox(alice, settings):
    from openesp.esp.actions import EspInput, save_personal_config

    settings.OPENESP_SENDGRID_API_KEY = "SG.operator-key"
    settings.OPENESP_SENDGRID_SENDING_DOMAIN = "mail.example.com"
    config = EspConfig.objects.create(kind="smtp", host="smtp.acme.example", user=alice, from_email=SENDER)
    save_bounce_mailbox(alice, config, MailboxInput(host="imap.acme.example", username="b", password="p"))
    save_personal_config(alice, EspInput(kind="sendgrid"))
    config.refresh_from_db()
    assert (config.imap_host, config.imap_password_encrypted, config.imap_enabled) == ("", "", False)

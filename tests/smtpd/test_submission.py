"""The SMTP submission server with real clients: smtplib over STARTTLS and the TLS port,
Django's SMTP e-mail backend; what it queues, and what delivery then sends."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import logging
import smtplib
from email.message import EmailMessage

import pytest
from django.core.mail import EmailMessage as DjangoEmailMessage
from django.core.mail import get_connection

from openesp.accounts.apikeys import create_api_key
from openesp.delivery.build import build, raw_contents
from openesp.messaging.models import EventType, Message, RawContent

pytestmark = pytest.mark.django_db(transaction=True)


def _mail(to: str = "bob@example.net", **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Alice <alice@example.org>"
    mail["To"] = to
    mail["Subject"] = "Hello över SMTP"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Plain body\n")
    mail.add_alternative("<p>HTML body</p>", subtype="html")
    mail.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    return mail


def test_smtplib_over_starttls_queues_one_message_per_recipient(submission_server, sending_key):
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        refused = client.send_message(_mail(), to_addrs=["bob@example.net", "carol@example.net"])
    assert refused == {}
    messages = list(Message.objects.order_by("to_email"))
    assert [m.to_email for m in messages] == ["bob@example.net", "carol@example.net"]
    assert {m.subject for m in messages} == {"Hello över SMTP"}
    assert {m.from_email for m in messages} == {"alice@example.org"}
    # The bytes are stored once, shared by both recipients.
    assert RawContent.objects.count() == 1
    assert len({m.raw_content_id for m in messages}) == 1
    assert all(m.events.filter(type=EventType.QUEUED).exists() for m in messages)


def test_smtplib_over_the_tls_port(submission_server, sending_key):
    with submission_server.tls() as client:
        client.login("apikey", sending_key)
        client.send_message(_mail())
    assert Message.objects.get().to_email == "bob@example.net"


def test_djangos_smtp_backend_sends_through_openesp(submission_server, sending_key, settings):
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host="127.0.0.1",
        port=submission_server.port,
        username="apikey",
        password=sending_key,
        use_tls=True,
        timeout=60,
    )
    # Django's backend builds its own default context (verifying certificates): trust ours.
    connection.ssl_context = submission_server.client_context()
    sent = DjangoEmailMessage(
        "Django subject", "Django body", "alice@example.org", ["dora@example.net"], connection=connection
    ).send()
    assert sent == 1
    message = Message.objects.get()
    assert (message.to_email, message.subject) == ("dora@example.net", "Django subject")


def test_delivery_relays_the_bytes_without_our_instruction_headers(submission_server, sending_key):
    smtpapi = {"category": ["receipts"], "unique_args": {"order": "42"}}
    mail = _mail(
        X_SMTPAPI=json.dumps(smtpapi), X_MJ_CustomID="c-7", X_Mailjet_Campaign="spring", Bcc="hidden@example.net"
    )
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(mail, to_addrs=["bob@example.net", "hidden@example.net"])
    message = Message.objects.get(to_email="bob@example.net")
    assert message.tags == ["receipts", "spring"]
    assert message.metadata == {"order": "42", "CustomID": "c-7"}
    sent = build(message)
    head = sent.split(b"\r\n\r\n", 1)[0].lower()
    for gone in (b"x-smtpapi", b"x-mj-customid", b"x-mailjet-campaign", b"\nbcc:", b"hidden@"):
        assert gone not in head
    assert b"message-id:" in head and b"date:" in head
    # The MIME below the headers is as the client sent it.
    stored = raw_contents([message])[message.raw_content_id]
    assert sent.split(b"\r\n\r\n", 1)[1] == stored.split(b"\r\n\r\n", 1)[1]


def test_x_smtpapi_to_and_substitutions_make_one_copy_each(submission_server, sending_key):
    smtpapi = {"to": ["Eve <eve@example.net>", "frank@example.net"], "sub": {"-name-": ["Eve", "Frank"]}}
    mail = EmailMessage()
    mail["From"] = "alice@example.org"
    mail["To"] = "ignored@example.net"
    mail["Subject"] = "Hi -name-"
    mail["X-SMTPAPI"] = json.dumps(smtpapi)
    mail.set_content("Dear -name-\n")
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(mail, to_addrs=["ignored@example.net"])
    eve, frank = Message.objects.order_by("to_email")
    assert (eve.to_email, eve.to_name, frank.to_email) == ("eve@example.net", "Eve", "frank@example.net")
    eve_bytes, frank_bytes = build(eve), build(frank)
    assert b"Dear Eve" in eve_bytes and b"Dear Frank" in frank_bytes
    assert b"To: Eve <eve@example.net>" in eve_bytes and b"ignored@" not in eve_bytes


def test_send_at_schedules(submission_server, sending_key):
    mail = _mail(X_SMTPAPI=json.dumps({"send_at": 4102444800}))  # 2100-01-01: too far
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(mail)
    assert refused.value.smtp_code == 550 and b"send_at" in refused.value.smtp_error
    assert not Message.objects.exists()


def test_a_from_the_key_may_not_use_is_refused_with_the_reason(submission_server, sending_key):
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        code, reply = client.mail("ceo@bank.example")
        assert code == 550 and reply.startswith(b"5.7.1") and b"not a sender you may use" in reply
        # The envelope may be right while the From header is not: checked at DATA too.
        client.rset()
        forged = _mail()
        forged.replace_header("From", "ceo@bank.example")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("alice@example.org", ["bob@example.net"], forged.as_bytes())
    assert refused.value.smtp_code == 550
    assert not Message.objects.exists()


def test_a_key_without_the_send_scope_is_refused(submission_server, alice):
    _row, reader = create_api_key(alice, scopes=["messages.read"])
    with submission_server.starttls() as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login("apikey", reader)
    assert b"messages.send" in refused.value.smtp_error


def test_more_than_1000_recipients_get_452(submission_server, sending_key):
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.mail("alice@example.org")
        for i in range(1000):
            assert client.rcpt(f"r{i}@example.net")[0] == 250
        code, reply = client.rcpt("one-too-many@example.net")
    assert code == 452 and reply.startswith(b"4.5.3")


def test_a_database_error_answers_451_and_queues_nothing(submission_server, sending_key, monkeypatch):
    from django.db import OperationalError

    import openesp.smtpd.accept as accept

    def broken(*_args, **_kwargs):
        raise OperationalError("the database went away")

    # The edge: a database that fails at commit. Patching the queue call is the one way to make
    # a real database fail at that point and not before.
    monkeypatch.setattr(accept, "queue_submissions", broken)
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(_mail())
    assert refused.value.smtp_code == 451 and refused.value.smtp_error.startswith(b"4.3.0")
    assert not Message.objects.exists()


def test_send_at_within_30_days_holds_the_message_back(submission_server, sending_key):
    from datetime import timedelta

    from django.utils import timezone

    when = int((timezone.now() + timedelta(hours=2)).timestamp())
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(_mail(X_SMTPAPI=json.dumps({"send_at": when})))
    message = Message.objects.get()
    assert int(message.not_before.timestamp()) == when


def test_an_http_provider_gets_the_parts_of_the_relayed_message(submission_server, sending_key):
    from openesp.delivery.build import outgoing

    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(_mail())
    item = outgoing(Message.objects.get())
    assert item.subject == "Hello över SMTP"
    assert item.text == "Plain body\n" and item.html.strip() == "<p>HTML body</p>"
    (attachment,) = item.attachments
    assert (attachment.filename, attachment.content, attachment.content_type) == (
        "invoice.pdf", b"%PDF-1.4 fake", "application/pdf",
    )  # fmt: skip


def test_tags_and_metadata_show_in_the_message_api(submission_server, sending_key, alice):
    from django.test import Client

    mail = _mail(X_SMTPAPI=json.dumps({"category": "welcome", "unique_args": {"user": "9"}}), X_MJ_EventPayload="p")
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(mail)
    _row, reader = create_api_key(alice, scopes=["messages.read"])
    message = Message.objects.get()
    response = Client().get(f"/api/v1/messages/{message.public_id}", HTTP_AUTHORIZATION=f"Bearer {reader}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tags"] == ["welcome"]
    assert body["metadata"] == {"user": "9", "EventPayload": "p"}


def test_a_workspace_key_sends_in_its_workspace(submission_server, bob, workspace):
    _row, key = create_api_key(bob, workspace=workspace, scopes=["messages.send"])
    with submission_server.starttls() as client:
        client.login("apikey", key)
        mail = _mail()
        mail.replace_header("From", "bob@example.org")
        client.send_message(mail)
    message = Message.objects.get()
    assert (message.workspace_id, message.organization_id, message.user_id) == (
        workspace.pk, workspace.organization_id, bob.pk,
    )  # fmt: skip


def test_another_users_address_is_not_a_sender(submission_server, charlie):
    _row, key = create_api_key(charlie, scopes=["messages.send"])
    with submission_server.starttls() as client:
        client.login("apikey", key)
        code, reply = client.mail("alice@example.org")
    assert code == 550 and b"5.7.1" in reply
    assert not Message.objects.exists()


def test_x_smtpapi_to_without_substitutions_stores_the_message_once(submission_server, sending_key):
    mail = _mail(to="list@example.net", X_SMTPAPI=json.dumps({"to": ["Gus <gus@example.net>", "hal@example.net"]}))
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(mail, to_addrs=["list@example.net"])
    gus, hal = Message.objects.order_by("to_email")
    assert RawContent.objects.count() == 1
    gus_head = build(gus).split(b"\r\n\r\n", 1)[0]
    hal_head = build(hal).split(b"\r\n\r\n", 1)[0]
    assert b"\r\nTo: Gus <gus@example.net>\r\n" in gus_head and b"hal@" not in gus_head
    assert b"\r\nTo: hal@example.net\r\n" in hal_head and b"gus@" not in hal_head
    assert b"list@example.net" not in gus_head + hal_head


def test_envelope_recipients_see_the_to_and_cc_as_written(submission_server, sending_key):
    mail = _mail(to="Bob <bob@example.net>", Cc="carol@example.net")
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(mail, to_addrs=["bob@example.net", "carol@example.net", "secret@example.net"])
    for message in Message.objects.all():
        head = build(message).split(b"\r\n\r\n", 1)[0]
        assert b"To: Bob <bob@example.net>\r\n" in head and b"Cc: carol@example.net\r\n" in head
        assert b"secret@" not in head


def test_the_key_is_never_logged(submission_server, sending_key, caplog):
    caplog.set_level(logging.DEBUG)
    with submission_server.starttls() as client:
        client.login("apikey", sending_key)  # AUTH PLAIN with the credentials on the command line
        client.send_message(_mail())
    with submission_server.tls() as client:
        client.ehlo()  # smtplib's auth() neither greets first nor raises on "503 send EHLO first"
        client.user, client.password = "apikey", sending_key
        code, _reply = client.auth("LOGIN", client.auth_login, initial_response_ok=False)  # in the challenges
        assert code == 235
    secret = sending_key.split("_", 2)[2]  # oe_<prefix>_<secret>; the secret itself may hold "_"
    assert Message.objects.count() == 1
    assert caplog.text and secret not in caplog.text
    assert base64.b64encode(f"\0apikey\0{sending_key}".encode()).decode() not in caplog.text
    assert base64.b64encode(sending_key.encode()).decode() not in caplog.text  # the LOGIN answer


def test_the_relayed_message_is_dkim_signed_so_that_dkimpy_verifies(submission_server, sending_key):
    import dkim

    from openesp.delivery.dkim import DkimKey, generate_private_key

    with submission_server.starttls() as client:
        client.login("apikey", sending_key)
        client.send_message(_mail(X_SMTPAPI=json.dumps({"category": "x"})))
    key = DkimKey.from_pem("example.org", "s1", generate_private_key("rsa"))
    signed = build(Message.objects.get(), signers=[key])
    assert signed.startswith(b"DKIM-Signature:")
    record = key.dns_record().encode()
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)


def _tracked_mail(**headers: str) -> EmailMessage:
    mail = _mail(**headers)
    mail.replace_header("From", "bob@example.org")
    html = mail.get_body(("html",))
    assert isinstance(html, EmailMessage)
    html.set_content('<html><body><p>Your <a href="https://shop.example/order/7">order</a></p></body></html>',
                     subtype="html")  # fmt: skip
    return mail


def test_tracking_headers_choose_the_messages_tracking_and_delivery_applies_it(submission_server, bob, workspace):
    from openesp.delivery.build import outgoing

    _row, key = create_api_key(bob, workspace=workspace, scopes=["messages.send"])
    filters = {"opentrack": {"settings": {"enable": 0}}, "clicktrack": {"settings": {"enable": 0}}}
    with submission_server.starttls() as client:
        client.login("apikey", key)
        on = _tracked_mail(X_Mailjet_TrackOpen="1", X_Mailjet_TrackClick="1")
        client.send_message(on, to_addrs=["t@example.net"])
        client.send_message(_tracked_mail(X_SMTPAPI=json.dumps({"filters": filters})), to_addrs=["u@example.net"])
        client.send_message(_tracked_mail(), to_addrs=["v@example.net"])
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(_tracked_mail(X_Mailjet_TrackOpen="yes"), to_addrs=["w@example.net"])
    assert refused.value.smtp_code == 550
    assert b"X-Mailjet-TrackOpen: must be 0 (off) or 1 (on)" in refused.value.smtp_error

    tracked = Message.objects.get(to_email="t@example.net")
    assert tracked.tracking == {"opens": True, "clicks": True}
    sent = email.message_from_bytes(build(tracked), policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    html_part, text_part = sent.get_body(("html",)), sent.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "/t/o/" in html and "/t/c/" in html and 'href="https://shop.example/order/7"' not in html
    assert text_part.get_content().replace("\r\n", "\n") == "Plain body\n"
    (attachment,) = sent.iter_attachments()
    assert attachment.get_content() == b"%PDF-1.4 fake"
    assert b"x-mailjet" not in build(tracked).split(b"\r\n\r\n", 1)[0].lower()
    assert "/t/c/" in outgoing(tracked).html  # an HTTP provider gets the tracked HTML too

    # Tracking off (SendGrid's filters), and the transactional default (off): the bytes as they came.
    for address, chosen in (("u@example.net", {"opens": False, "clicks": False}), ("v@example.net", {})):
        untracked = Message.objects.get(to_email=address)
        assert untracked.tracking == chosen
        stored = raw_contents([untracked])[untracked.raw_content_id]
        assert build(untracked).split(b"\r\n\r\n", 1)[1] == stored.split(b"\r\n\r\n", 1)[1]
    assert not Message.objects.filter(to_email="w@example.net").exists()

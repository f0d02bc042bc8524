"""Test connection against real servers on loopback: aiosmtpd, and local SendGrid/Mailjet APIs."""

from __future__ import annotations

import base64
import email
import logging
import socket
from email.policy import default as default_policy

import pytest

from openesp.esp.actions import EspInput, save_personal_config
from openesp.esp.models import EspConfig
from openesp.esp.testconn import TestResult, test_config, test_saved_config
from tests.servers.smtp import SilentServer, SmtpTestServer, closed_port

pytestmark = pytest.mark.django_db

TO = "alice@example.org"
FROM = "sender@acme.example.com"


def smtp_input(server: SmtpTestServer | SilentServer, **changes) -> EspInput:
    fields = {
        "kind": "smtp",
        "host": server.host,
        "port": server.port,
        "security": getattr(server, "security", "starttls"),
        "from_email": FROM,
        "username": getattr(server, "username", ""),
        "password": getattr(server, "password", ""),
    }
    fields.update(changes)
    return EspInput(**fields)


def test_it_sends_a_test_mail_over_starttls_with_auth(smtp_server):
    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert result == TestResult(True, "done", result.detail)
    assert "250" in result.detail
    [received] = smtp_server.messages
    assert received.mail_from == FROM
    assert received.rcpt_tos == [TO]
    assert received.tls
    assert received.authenticated_as == "mailer"
    [attempt] = smtp_server.auth_attempts
    assert attempt.success and attempt.tls
    message = email.message_from_bytes(received.data, policy=default_policy)
    assert message["From"] == FROM
    assert message["To"] == TO
    assert message["Date"]
    assert message["Message-ID"].endswith("@openesp.local>") or "@" in message["Message-ID"]
    assert "connection test" in message["Subject"]
    assert "connection test from openesp" in message.get_content()


def test_it_puts_the_message_id_on_the_mail_domain(smtp_server, settings):
    settings.OPENESP_MAIL_DOMAIN = "mail.openesp.test"
    assert test_config(smtp_input(smtp_server), to_email=TO).ok
    message = email.message_from_bytes(smtp_server.messages[0].data, policy=default_policy)
    assert message["Message-ID"].endswith("@mail.openesp.test>")


def test_it_reports_a_wrong_password_at_the_auth_step(smtp_server):
    result = test_config(smtp_input(smtp_server, password="not-the-password"), to_email=TO)

    assert not result.ok
    assert result.step == "auth"
    assert "535" in result.detail
    assert "5.7.8" in result.detail
    assert smtp_server.messages == []


def test_it_reports_a_closed_port_at_the_connect_step(smtp_server):
    result = test_config(smtp_input(smtp_server, port=closed_port()), to_email=TO)

    assert (result.ok, result.step) == (False, "connect")
    assert "refused" in result.detail


def received_commands(caplog) -> list[str]:
    """The commands the aiosmtpd server logged receiving (``peer >> b'COMMAND ...'``)."""
    return [
        r.getMessage().split(" >> ", 1)[1] for r in caplog.records if r.name == "mail.log" and " >> " in r.getMessage()
    ]


def test_it_refuses_to_go_on_when_starttls_is_not_offered(smtp_server_no_tls, caplog):
    caplog.set_level(logging.INFO, logger="mail.log")
    data = smtp_input(smtp_server_no_tls, security="starttls", username="mailer", password="s3cret-Pa55word!")

    result = test_config(data, to_email=TO)

    assert (result.ok, result.step) == (False, "tls")
    assert "STARTTLS" in result.detail
    commands = received_commands(caplog)
    assert any("EHLO" in c.upper() for c in commands)
    # Not even an attempt: the password never went over the unencrypted connection.
    assert not any("AUTH" in c.upper() or "MAIL" in c.upper() for c in commands)
    assert smtp_server_no_tls.messages == []


def test_it_sends_without_tls_when_security_is_none(smtp_server_no_tls):
    result = test_config(smtp_input(smtp_server_no_tls, username="", password=""), to_email=TO)

    assert result.ok, result.detail
    [received] = smtp_server_no_tls.messages
    assert not received.tls
    assert received.authenticated_as is None


def test_it_refuses_a_certificate_it_does_not_trust(smtp_server, settings):
    settings.OPENESP_SMTP_CA_FILE = ""

    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert (result.ok, result.step) == (False, "tls")
    assert "certificate could not be verified" in result.detail
    assert smtp_server.auth_attempts == []


def test_it_refuses_a_certificate_for_another_name(smtp_server, monkeypatch):
    # The certificate covers localhost and 127.0.0.1; "mail.example.com" resolving to loopback
    # (patched at the network edge, DNS) must fail verification against the typed name.
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == "mail.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)

    result = test_config(smtp_input(smtp_server, host="mail.example.com"), to_email=TO)

    assert (result.ok, result.step) == (False, "tls")
    assert "mail.example.com" in result.detail
    assert smtp_server.auth_attempts == []


def test_it_skips_verification_when_the_operator_turns_it_off(smtp_server, settings):
    settings.OPENESP_SMTP_CA_FILE = ""
    settings.OPENESP_SMTP_TLS_VERIFY = False

    assert test_config(smtp_input(smtp_server), to_email=TO).ok


def test_it_sends_over_implicit_tls(smtp_server_tls):
    result = test_config(smtp_input(smtp_server_tls, security="tls"), to_email=TO)

    assert result.ok, result.detail
    [received] = smtp_server_tls.messages
    assert received.tls
    assert received.authenticated_as == "mailer"


def test_it_refuses_an_untrusted_certificate_over_implicit_tls(smtp_server_tls, settings):
    settings.OPENESP_SMTP_CA_FILE = ""

    result = test_config(smtp_input(smtp_server_tls, security="tls"), to_email=TO)

    assert (result.ok, result.step) == (False, "tls")


def test_it_reports_a_refused_sender_at_the_sender_step(smtp_server):
    smtp_server.refuse_sender(FROM)

    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert (result.ok, result.step) == (False, "sender")
    assert "553 5.7.1" in result.detail
    assert FROM in result.detail


def test_it_reports_a_refused_recipient_at_the_recipient_step(smtp_server):
    smtp_server.refuse_recipient(TO)

    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert (result.ok, result.step) == (False, "recipient")
    assert "550 5.1.1" in result.detail


def test_it_reports_a_refused_message_at_the_data_step(smtp_server):
    smtp_server.refuse_data("554 5.7.1 Message rejected as spam")

    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert (result.ok, result.step) == (False, "data")
    assert "554 5.7.1 Message rejected as spam" in result.detail


def test_it_gives_up_on_a_silent_server_within_the_bound(silent_server, settings):
    settings.OPENESP_SMTP_TIMEOUT = 2

    result = test_config(smtp_input(silent_server, security="starttls", username="", password=""), to_email=TO)

    assert not result.ok
    assert result.step in ("connect", "ehlo")
    assert "timed out" in result.detail
    assert silent_server.connections == 1


def test_it_reports_a_name_that_does_not_resolve(smtp_server):
    result = test_config(smtp_input(smtp_server, host="no-such-host.invalid"), to_email=TO)

    assert (result.ok, result.step) == (False, "resolve")
    assert "no-such-host.invalid" in result.detail


def test_it_refuses_loopback_when_private_hosts_are_not_allowed(smtp_server, settings, monkeypatch):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False
    # A public-looking name that resolves to loopback passes validation (no DNS there) and is
    # refused by the guard at resolve time, before any connection is made.
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == "smtp.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)

    result = test_config(smtp_input(smtp_server, host="smtp.example.com"), to_email=TO)

    assert (result.ok, result.step) == (False, "resolve")
    assert "loopback" in result.detail
    assert smtp_server.auth_attempts == []


def test_it_refuses_a_literal_loopback_address_at_validation(smtp_server, settings):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False

    result = test_config(smtp_input(smtp_server), to_email=TO)

    assert (result.ok, result.step) == (False, "validate")
    assert "host" in result.detail


def test_it_reports_invalid_input_at_the_validate_step():
    result = test_config(EspInput(kind="smtp", host="smtp.gmail.com", from_email=FROM), to_email=TO)

    assert (result.ok, result.step) == (False, "validate")
    assert result.detail.startswith("host:")
    assert "bulk mail" in result.detail


def test_it_tests_a_saved_config_with_its_encrypted_password(smtp_server, alice):
    config = save_personal_config(alice, smtp_input(smtp_server))
    assert smtp_server.password not in config.password_encrypted

    result = test_saved_config(EspConfig.objects.get(pk=config.pk), to_email=alice.email)

    assert result.ok, result.detail
    assert smtp_server.auth_attempts[-1].success
    assert smtp_server.messages[0].rcpt_tos == [alice.email]


def test_it_uses_the_stored_password_for_an_unsaved_form_on_the_same_host(smtp_server, alice):
    config = save_personal_config(alice, smtp_input(smtp_server))

    result = test_config(smtp_input(smtp_server, password=None), to_email=TO, existing=config)

    assert result.ok, result.detail


def test_it_will_not_send_the_stored_password_to_another_host(smtp_server, alice):
    config = save_personal_config(alice, smtp_input(smtp_server, host="localhost"))

    result = test_config(smtp_input(smtp_server, password=None), to_email=TO, existing=config)

    assert (result.ok, result.step) == (False, "validate")
    assert "password" in result.detail
    assert smtp_server.auth_attempts == []


def test_it_sends_through_sendgrid(sendgrid_server):
    result = test_config(EspInput(kind="sendgrid"), to_email=TO)

    assert result.ok, result.detail
    assert result.step == "done"
    [check] = sendgrid_server.requests_to("GET", "/v3/scopes")
    [send] = sendgrid_server.requests_to("POST", "/v3/mail/send")
    for request in (check, send):
        assert request.headers["authorization"] == f"Bearer {sendgrid_server.api_key}"
    assert send.status == 202
    body = send.json()
    assert body["personalizations"] == [{"to": [{"email": TO}]}]
    assert body["subject"] == "openesp connection test"
    [(message_id, _payload)] = sendgrid_server.accepted
    assert message_id in result.detail


def test_it_reports_a_wrong_sendgrid_key_at_the_credentials_step(sendgrid_server, settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.wrong"

    result = test_config(EspInput(kind="sendgrid"), to_email=TO)

    assert (result.ok, result.step) == (False, "credentials")
    assert "401" in result.detail
    assert "authorization grant is invalid" in result.detail
    assert sendgrid_server.requests_to("POST", "/v3/mail/send") == []
    assert "SG.wrong" not in result.detail


def test_it_reports_a_sendgrid_key_that_may_not_send(sendgrid_server):
    sendgrid_server.scopes = ["stats.read"]

    result = test_config(EspInput(kind="sendgrid"), to_email=TO)

    assert (result.ok, result.step) == (False, "credentials")
    assert "mail.send" in result.detail


def test_it_reports_a_failed_sendgrid_send_at_the_send_step(sendgrid_server):
    from tests.servers.apis import Reply

    sendgrid_server.fail_with = Reply(503, {"errors": [{"message": "service unavailable", "field": None}]})

    result = test_config(EspInput(kind="sendgrid"), to_email=TO)

    assert (result.ok, result.step) == (False, "send")
    assert "503" in result.detail and "service unavailable" in result.detail


def test_it_sends_through_mailjet(mailjet_server):
    result = test_config(EspInput(kind="mailjet"), to_email=TO)

    assert result.ok, result.detail
    [check] = mailjet_server.requests_to("GET", "/v3/REST/myprofile")
    [send] = mailjet_server.requests_to("POST", "/v3.1/send")
    expected = "Basic " + base64.b64encode(f"{mailjet_server.api_key}:{mailjet_server.secret_key}".encode()).decode()
    assert check.headers["authorization"] == send.headers["authorization"] == expected
    assert send.status == 200
    [message] = send.json()["Messages"]
    assert message["To"] == [{"Email": TO}]
    assert message["CustomID"].startswith("connection-test.")


def test_it_reports_a_wrong_mailjet_secret_at_the_credentials_step(mailjet_server, settings):
    settings.OPENESP_MAILJET_SECRET_KEY = "wrong-secret"

    result = test_config(EspInput(kind="mailjet"), to_email=TO)

    assert (result.ok, result.step) == (False, "credentials")
    assert "401" in result.detail
    assert "API key authentication/authorization failure" in result.detail
    assert mailjet_server.requests_to("POST", "/v3.1/send") == []


def test_it_reports_an_unavailable_standard_provider_at_the_validate_step(settings):
    settings.OPENESP_MAILJET_API_KEY = ""

    result = test_config(EspInput(kind="mailjet"), to_email=TO)

    assert (result.ok, result.step) == (False, "validate")
    assert "not available" in result.detail


def test_it_tests_a_saved_standard_config(sendgrid_server, alice):
    config = save_personal_config(alice, EspInput(kind="sendgrid"))

    assert test_saved_config(config, to_email=alice.email).ok
    assert len(sendgrid_server.accepted) == 1


def _secret_forms(secret: str, username: str) -> list[str]:
    """The password and the forms it takes on the wire (AUTH PLAIN/LOGIN base64)."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0{username}\0{secret}".encode()).decode(),
        repr(secret.encode()),
    ]


@pytest.mark.parametrize("outcome", ["success", "wrong password", "refused sender"])
def test_it_never_shows_or_logs_the_password(make_smtp_server, alice, caplog, outcome):
    password = "Very-Secret-Pa55word-9876"
    server = make_smtp_server("starttls", password=password)
    if outcome == "refused sender":
        server.refuse_sender(FROM)
    typed = password if outcome != "wrong password" else "Other-Secret-Pa55word-1234"
    caplog.set_level(logging.DEBUG)

    config = save_personal_config(alice, smtp_input(server, password=typed))
    results = [
        test_config(smtp_input(server, password=typed), to_email=TO),
        test_saved_config(config, to_email=TO),
    ]

    for result in results:
        for form in _secret_forms(typed, server.username):
            assert form not in result.detail
            assert form not in repr(result)
    assert any(r.name == "mail.log" and "AUTH" in r.getMessage() for r in caplog.records), "server log captured"
    for record in caplog.records:
        text = record.getMessage()
        if record.name == "mail.log" and "AUTH" in text:
            continue  # the server's own log of the AUTH exchange, which carries the credentials
        for form in _secret_forms(typed, server.username):
            assert form not in text, f"{record.name}: {text}"
    assert server.auth_attempts, "the password was used"


@pytest.mark.parametrize("kind", ["sendgrid", "mailjet"])
@pytest.mark.parametrize("right_key", [True, False])
def test_it_never_shows_or_logs_the_operator_keys(sendgrid_server, mailjet_server, settings, caplog, kind, right_key):
    if not right_key:
        settings.OPENESP_SENDGRID_API_KEY = "SG.wrong-but-still-secret"
        settings.OPENESP_MAILJET_SECRET_KEY = "mj-wrong-but-still-secret"
    secrets = [settings.OPENESP_SENDGRID_API_KEY, settings.OPENESP_MAILJET_SECRET_KEY]
    caplog.set_level(logging.DEBUG)

    result = test_config(EspInput(kind=kind), to_email=TO)

    assert result.ok is right_key
    for secret in secrets:
        assert secret not in repr(result)
        for record in caplog.records:
            assert secret not in record.getMessage(), f"{record.name}: {record.getMessage()}"
            assert base64.b64encode(f"{mailjet_server.api_key}:{secret}".encode()).decode() not in record.getMessage()


@pytest.mark.django_db
def test_it_limits_tests_per_person_and_hour(settings, smtp_server):
    settings.OPENESP_TEST_CONNECTION_LIMIT = 2
    data = EspInput(
        kind="smtp", host=smtp_server.host, port=smtp_server.port, security="starttls",
        from_email="mailer@acme.example", username=smtp_server.username, password=smtp_server.password,
    )  # fmt: skip
    assert test_config(data, to_email="dana@example.org").ok
    assert test_config(data, to_email="dana@example.org").ok
    refused = test_config(data, to_email="Dana@example.org")
    assert (refused.ok, refused.step) == (False, "validate")
    assert "too many connection tests" in refused.detail
    assert len(smtp_server.messages) == 2
    # Another person is not affected.
    assert test_config(data, to_email="erik@example.org").ok

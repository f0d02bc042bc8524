"""Provider modules against the local test servers: payloads, batching and error verdicts."""

from __future__ import annotations

import pytest

from openesp.esp.providers import (
    ConnectionFailed,
    CredentialsRejected,
    MailjetProvider,
    MessageRejected,
    OutgoingMessage,
    ProviderUnavailable,
    SendGridProvider,
    SmtpProvider,
    SmtpServer,
    TlsFailed,
    Verdict,
    standard_provider,
)
from tests.servers.apis import Reply
from tests.servers.smtp import closed_port


def message(n: int = 0, **changes) -> OutgoingMessage:
    fields = {
        "from_email": "news@acme.example.com",
        "to": (f"reader{n}@example.org",),
        "subject": f"Issue {n}",
        "text": "Hello",
        "html": "<p>Hello</p>",
        "from_name": "Acme News",
        "message_id": f"m{n}.abc@openesp.example",
        "metadata": {"openesp_message_id": str(n)},
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


def test_it_sends_a_spec_valid_sendgrid_request_with_custom_args(sendgrid_server):
    result = standard_provider("sendgrid").send(message(7))

    [(message_id, body)] = sendgrid_server.accepted
    assert result.provider_message_id == message_id
    assert body["custom_args"] == {"openesp_message_id": "7"}
    assert body["headers"] == {"Message-ID": "<m7.abc@openesp.example>"}
    assert body["from"] == {"email": "news@acme.example.com", "name": "Acme News"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_it_reports_a_sendgrid_validation_error_as_permanent(sendgrid_server):
    with pytest.raises(MessageRejected) as caught:
        standard_provider("sendgrid").send(message(to=("not an address",)))

    assert caught.value.verdict is Verdict.PERMANENT
    assert caught.value.http_status == 400
    assert "personalizations.0.to.0.email" in caught.value.provider_text


@pytest.mark.parametrize(("status", "error_type"), [(503, ConnectionFailed), (429, ConnectionFailed)])
def test_it_reports_a_busy_sendgrid_as_temporary(sendgrid_server, status, error_type):
    sendgrid_server.fail_with = Reply(status, {"errors": [{"message": "try later", "field": None}]})

    with pytest.raises(error_type) as caught:
        standard_provider("sendgrid").send(message())

    assert caught.value.temporary
    assert caught.value.reply == f"HTTP {status}: try later"


def test_it_reports_a_revoked_key_as_temporary_credentials_error(sendgrid_server, settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.revoked"

    with pytest.raises(CredentialsRejected) as caught:
        standard_provider("sendgrid").send(message())

    # The message is not at fault: it waits for the operator to fix the key.
    assert caught.value.verdict is Verdict.TEMPORARY
    assert "SG.revoked" not in str(caught.value)


def test_it_reports_an_unreachable_api_as_temporary(settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.key"
    settings.OPENESP_SENDGRID_API_URL = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(ConnectionFailed) as caught:
        standard_provider("sendgrid").check_credentials()

    assert caught.value.temporary


def test_it_never_shows_keys_in_a_provider_repr():
    providers = [
        SendGridProvider("https://api.sendgrid.example", "SG.secret-key", timeout=5),
        MailjetProvider("https://api.mailjet.example", "public", "mj-secret-key", timeout=5),
        SmtpProvider(SmtpServer("smtp.acme.example.com", 587, "starttls", "mailer", "smtp-secret")),
    ]
    for provider in providers:
        assert "secret" not in repr(provider)
    assert "smtp-secret" not in repr(SmtpServer("h", 587, "starttls", "mailer", "smtp-secret"))


def test_it_says_when_the_operator_has_not_configured_a_provider(settings):
    settings.OPENESP_MAILJET_API_KEY = ""

    with pytest.raises(ProviderUnavailable):
        standard_provider("mailjet")


def test_it_batches_mailjet_messages_fifty_per_call(mailjet_server):
    outcomes = standard_provider("mailjet").send_many([message(n) for n in range(60)])

    calls = mailjet_server.requests_to("POST", "/v3.1/send")
    assert [len(call.json()["Messages"]) for call in calls] == [50, 10]
    assert all(not isinstance(o, Exception) and o.provider_message_id for o in outcomes)
    assert calls[0].json()["Messages"][3]["CustomID"] == "m3.abc@openesp.example"


def test_it_reports_mailjet_errors_per_message(mailjet_server):
    outcomes = standard_provider("mailjet").send_many([message(1), message(2, subject=""), message(3)])

    ok1, failed, ok3 = outcomes
    assert isinstance(failed, MessageRejected)
    assert failed.verdict is Verdict.PERMANENT
    assert "Subject" in failed.provider_text
    assert not isinstance(ok1, Exception) and not isinstance(ok3, Exception)
    assert [m["Subject"] for m in mailjet_server.accepted] == ["Issue 1", "Issue 3"]


def _smtp(server) -> SmtpProvider:
    return SmtpProvider(SmtpServer(server.host, server.port, server.security, server.username, server.password))


def test_it_reports_a_permanently_refused_recipient_with_its_address(smtp_server):
    smtp_server.refuse_recipient("reader1@example.org", "550 5.1.1 <reader1@example.org>: unknown user")

    with pytest.raises(MessageRejected) as caught:
        _smtp(smtp_server).send(message(1))

    error = caught.value
    assert (error.step, error.verdict, error.smtp_code) == ("recipient", Verdict.PERMANENT, 550)
    assert error.enhanced_status == "5.1.1"
    assert error.recipient == "reader1@example.org"


def test_it_reports_a_greylisted_recipient_as_temporary(smtp_server):
    smtp_server.refuse_recipient("reader1@example.org", "450 4.2.0 Greylisted, try again later")

    with pytest.raises(MessageRejected) as caught:
        _smtp(smtp_server).send(message(1))

    assert caught.value.temporary
    assert caught.value.enhanced_status == "4.2.0"


def test_it_sends_a_multipart_message_over_smtp(smtp_server):
    result = _smtp(smtp_server).send(message(4))

    [received] = smtp_server.messages
    assert result.detail.startswith("250")
    assert b"Message-ID: <m4.abc@openesp.example>" in received.data
    assert b"multipart/alternative" in received.data


def test_it_checks_smtp_credentials_without_sending(smtp_server):
    assert _smtp(smtp_server).check_credentials() == "logged in"
    assert smtp_server.auth_attempts[0].success
    assert smtp_server.messages == []


def test_it_never_sends_a_password_over_an_unencrypted_connection(make_smtp_server):
    # A careless server that offers AUTH in clear text, and a caller (say, a misconfigured
    # operator relay) asking for no TLS: the password must still not be sent.
    server = make_smtp_server("none", auth_require_tls=False)
    provider = SmtpProvider(SmtpServer(server.host, server.port, "none", server.username, server.password))

    with pytest.raises(TlsFailed) as caught:
        provider.check_credentials()

    assert caught.value.step == "auth"
    assert server.auth_attempts == []


def test_it_offers_auth_in_clear_on_the_careless_test_server(make_smtp_server):
    # The counterpart that shows the test above can fail: a plain client does send the password.
    import smtplib

    server = make_smtp_server("none", auth_require_tls=False)
    with smtplib.SMTP(server.host, server.port) as client:
        client.login(server.username, server.password)

    assert server.auth_attempts[0].success
    assert not server.auth_attempts[0].tls

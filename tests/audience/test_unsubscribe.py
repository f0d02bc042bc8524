"""One-click unsubscribe: the headers the builder adds, their DKIM coverage, and the public
``/u/<token>/`` endpoint used exactly as a mailbox provider uses it (RFC 8058)."""

from __future__ import annotations

import email
import email.policy
import re
from urllib.parse import urlsplit

import dkim
import pytest
from django.test import Client

from openesp.accounts.models import Workspace
from openesp.audience.models import ConsentRecord, Contact, ContactStatus, Suppression, SuppressionAudit
from openesp.audience.unsubscribe import InvalidToken, Target, make_token, unsubscribe_headers, verify_token
from openesp.delivery.build import build, outgoing
from openesp.delivery.domains import add_dkim_key
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Message
from openesp.messaging.senders import add_sending_domain
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db

RECIPIENT = "Reader@Example.net"


@pytest.fixture
def worker():
    w = Worker("test-unsubscribe", pool_size=1)
    yield w
    w.close()


@pytest.fixture
def provider() -> Client:
    """A mailbox provider: no session, no cookies, and CSRF checks on as in production."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def contact(workspace: Workspace) -> Contact:
    return Contact.objects.create(workspace=workspace, email=RECIPIENT, email_key=RECIPIENT.lower())


def _smtp_config(user, server) -> EspConfig:
    config = EspConfig(
        kind="smtp",
        host=server.host,
        port=server.port,
        security=server.security,
        from_email="mailer@acme.example",
        username=server.username,
        user=user,
    )
    config.set_password(server.password)
    config.save()
    return config


def _send(user, workspace, category="invitation", to=RECIPIENT) -> Message:
    data = {"from": user.email, "to": [to], "subject": "Hello", "text": "Body", "category": category}
    (message,) = submit(user, parse_submission(data), workspace=workspace)
    return message


def _path(header: str) -> str:
    match = re.fullmatch(r"<(https?://[^>]+)>", header)
    assert match, header
    url = urlsplit(match.group(1))
    return url.path


def _signed_headers(raw: bytes) -> list[str]:
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    signature = re.sub(r"\s+", "", parsed["DKIM-Signature"])
    tags = dict(tag.split("=", 1) for tag in signature.split(";") if tag)
    return [name.lower() for name in tags["h"].split(":")]


def _counts(workspace) -> tuple[int, int, int]:
    return (
        Suppression.objects.filter(workspace=workspace).count(),
        SuppressionAudit.objects.filter(workspace=workspace).count(),
        ConsentRecord.objects.filter(workspace=workspace).count(),
    )


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_it_unsubscribes_end_to_end_as_a_mailbox_provider_does(
    alice, org, workspace, contact, smtp_server, worker, provider, encoding
):
    _smtp_config(alice, smtp_server)
    _record, key = add_dkim_key(add_sending_domain("acme.example"), algorithm="rsa", selector="s1")
    _send(alice, workspace)
    assert worker.run_once() == 1
    (received,) = smtp_server.messages
    raw = received.data
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = _path(parsed["List-Unsubscribe"])
    # Both headers are covered by a signature that verifies.
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(_signed_headers(raw))
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: key.dns_record().encode())

    if encoding == "multipart":
        response = provider.post(path, {"List-Unsubscribe": "One-Click"})  # multipart/form-data
    else:
        response = provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Location" not in response
    assert not response.cookies
    suppression = Suppression.objects.get(workspace=workspace, email=RECIPIENT.lower())
    assert (suppression.reason, suppression.source) == ("unsubscribe", "one-click")
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    (record,) = ConsentRecord.objects.filter(contact=contact)
    assert (record.action, record.source, record.ip) == ("unsubscribe", "one-click", "127.0.0.1")

    # Providers retry: the same POST again is a 200 and records nothing more.
    before = _counts(workspace)
    again = provider.post(path, {"List-Unsubscribe": "One-Click"})
    assert (again.status_code, _counts(workspace)) == (200, before)
    again = provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert (again.status_code, _counts(workspace)) == (200, before)

    # The next mail to the address (any case) is dropped by the worker.
    later = _send(alice, workspace, category="reminder", to=RECIPIENT.lower())
    worker.run_once()
    later.refresh_from_db()
    assert later.status == "dropped"
    assert len(smtp_server.messages) == 1


def test_it_shows_a_confirmation_page_on_get_and_changes_nothing(workspace, contact, provider):
    path = f"/u/{make_token(workspace.pk, RECIPIENT)}/"
    response = provider.get(path)
    assert response.status_code == 200
    assert b'data-testid="unsubscribe-confirm"' in response.content
    assert b"reader@example.net" in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies
    assert provider.head(path).status_code == 200
    assert _counts(workspace) == (0, 0, 0)
    contact.refresh_from_db()
    assert contact.status == ContactStatus.ACTIVE


def test_it_unsubscribes_from_the_confirmation_button(workspace, contact, provider):
    path = f"/u/{make_token(workspace.pk, RECIPIENT)}/"
    response = provider.post(path)  # the page's form: an empty body, no CSRF token
    assert response.status_code == 200
    assert b'data-testid="unsubscribe-done"' in response.content
    assert Suppression.objects.filter(workspace=workspace, email="reader@example.net", reason="unsubscribe").exists()
    (record,) = ConsentRecord.objects.filter(contact=contact)
    assert (record.action, record.source) == ("unsubscribe", "form")
    assert provider.post(path).status_code == 200
    assert ConsentRecord.objects.filter(contact=contact).count() == 1


def test_it_suppresses_an_address_that_is_not_a_contact(workspace, provider):
    response = provider.post(
        f"/u/{make_token(workspace.pk, 'stranger@example.net')}/", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert Suppression.objects.filter(workspace=workspace, email="stranger@example.net").exists()
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize("address", ["reader@example.net", "old..dots@example.net"])
def test_it_writes_an_audit_row_with_the_suppression(workspace, provider, address):
    # The second address was accepted when the mail went out and fails validation today: its
    # suppression must still come with the audit row that says who added it and how.
    response = provider.post(f"/u/{make_token(workspace.pk, address)}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Suppression.objects.filter(workspace=workspace, email=address).exists()
    (audit,) = SuppressionAudit.objects.filter(workspace=workspace, email=address)
    assert (audit.action, audit.reason, audit.source, audit.source_detail) == (
        "add",
        "unsubscribe",
        "one-click",
        "List-Unsubscribe-Post",
    )


def test_it_keeps_a_bounced_contact_bounced_but_records_the_unsubscribe(workspace, contact, provider):
    contact.status = ContactStatus.BOUNCED
    contact.save()
    provider.post(f"/u/{make_token(workspace.pk, RECIPIENT)}/", {"List-Unsubscribe": "One-Click"})
    contact.refresh_from_db()
    assert contact.status == ContactStatus.BOUNCED
    assert ConsentRecord.objects.filter(contact=contact, action="unsubscribe").count() == 1


def test_it_shows_the_page_in_swedish(workspace, provider):
    path = f"/u/{make_token(workspace.pk, RECIPIENT)}/"
    page = provider.get(path, headers={"accept-language": "sv"}).content.decode()
    assert "Vill du sluta ta emot de här e-postmeddelandena till reader@example.net?" in page
    assert "Avregistrera" in page
    done = provider.post(path, headers={"accept-language": "sv"}).content.decode()
    assert "Du är avregistrerad" in done


def test_it_rejects_tampered_and_foreign_tokens(workspace, contact, provider, settings):
    token = make_token(workspace.pk, RECIPIENT)
    payload, signature = token.split(".")
    other = make_token(workspace.pk + 1, RECIPIENT).split(".")[0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    bad = [
        f"{other}.{signature}",  # another workspace, the signature of this one
        f"{payload}.{flipped}",
        payload,
        f"{payload}.{signature[:20]}",
        "garbage",
    ]
    for token_ in bad:
        assert provider.get(f"/u/{token_}/").status_code == 404, token_
        response = provider.post(f"/u/{token_}/", {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400, token_
    settings.SECRET_KEY = "another key"  # a token signed by another installation
    assert provider.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert _counts(workspace) == (0, 0, 0)


def test_it_round_trips_tokens_and_rejects_others():
    token = make_token(7, " Someone@Example.NET ")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[0-9a-f]{32}", token)
    assert verify_token(token) == Target(7, "someone@example.net")
    with pytest.raises(InvalidToken):
        verify_token(token.upper())


def test_it_answers_a_post_for_a_deleted_workspace_with_200(workspace, provider):
    token = make_token(workspace.pk, RECIPIENT)
    workspace.delete()
    assert provider.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("category", ["system", "transactional", "org_invitation", "workspace_invitation"])
def test_it_adds_no_list_unsubscribe_to_system_transactional_or_platform_mail(workspace, category):
    message = Message.objects.create(
        workspace=workspace, category=category, from_email="a@acme.example", to_email=RECIPIENT, subject="s"
    )
    raw = build(message)
    assert b"List-Unsubscribe" not in raw
    assert not any(name.lower().startswith("list-unsubscribe") for name, _v in outgoing(message).headers)


@pytest.mark.parametrize(
    "category",
    ["invitation", "invitation_automation", "reminder", "reminder_scheduled", "response_receipt", "category_message"],
)
def test_it_adds_list_unsubscribe_to_mail_recipients_may_opt_out_of(workspace, category, settings):
    settings.OPENESP_BASE_URL = "https://esp.example"
    message = Message.objects.create(
        workspace=workspace,
        category=category,
        from_email="a@acme.example",
        to_email=RECIPIENT,
        subject="s",
        headers={"list-unsubscribe": "<mailto:x@example.org>", "X-Campaign": "spring"},
    )
    headers = dict(unsubscribe_headers(message))
    url = f"https://esp.example/u/{make_token(workspace.pk, RECIPIENT)}/"
    assert headers == {
        "X-Campaign": "spring",
        "List-Unsubscribe": f"<{url}>",  # the caller's own header is replaced by ours
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert dict(outgoing(message).headers) == headers  # SendGrid and Mailjet get the same
    parsed = email.message_from_bytes(build(message), policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == f"<{url}>"


def test_it_adds_no_list_unsubscribe_to_mail_without_a_workspace(alice):
    message = Message.objects.create(
        user=alice, category="invitation", from_email="a@acme.example", to_email=RECIPIENT, subject="s"
    )
    assert unsubscribe_headers(message) == []


def test_it_passes_the_headers_to_sendgrid(alice, workspace, sendgrid_server, worker):
    EspConfig.objects.create(user=alice, kind="sendgrid")
    _send(alice, workspace)
    worker.run_once()
    body = sendgrid_server.requests_to("POST", "/v3/mail/send")[-1].json()
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _path(body["headers"]["List-Unsubscribe"]) == f"/u/{make_token(workspace.pk, RECIPIENT)}/"

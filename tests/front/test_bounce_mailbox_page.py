"""The bounce mailbox page of a custom SMTP server: test against a real IMAP server (dovecot),
save, the poll's problem shown, remove; in Swedish too; read-only for members."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from openesp.esp.models import EspConfig
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db
IMAP_SECRET = "imap-Page-Secret-4"


def _smtp(**owner: object) -> EspConfig:
    return EspConfig.objects.create(
        kind="smtp", host="smtp.acme.example", port=587, security="starttls", from_email="news@acme.example", **owner
    )


def _form(server, **overrides: str) -> dict[str, str]:
    data = {
        "enabled": "on",
        "host": server.host,
        "port": str(server.tls_port),
        "security": "tls",
        "username": server.username,
        "password": server.password,
        "folder": "INBOX",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_tests_saves_shows_a_problem_and_removes(as_alice, alice, imap_server):
    config = _smtp(user=alice)
    url = reverse("email-bounce-mailbox")
    page = as_alice.get(url)
    assert page.status_code == 200 and "No bounce mailbox is set" in page.content.decode()
    tested = as_alice.post(url, _form(imap_server, action="test"))
    html = tested.content.decode()
    assert 'data-ok="true"' in html and imap_server.password not in html
    assert not EspConfig.objects.get(pk=config.pk).has_bounce_mailbox  # testing saves nothing
    assert as_alice.post(url, _form(imap_server)).status_code == 302
    config.refresh_from_db()
    assert (config.imap_host, config.imap_port, config.imap_enabled) == (imap_server.host, imap_server.tls_port, True)
    assert config.get_imap_password() == imap_server.password
    # A poll's failure is shown on the page and on the status page.
    EspConfig.objects.filter(pk=config.pk).update(
        imap_error="the server refused the user name or password: [AUTHENTICATIONFAILED]", imap_error_at=timezone.now()
    )
    html = as_alice.get(url).content.decode()
    assert 'data-testid="imap-error"' in html and "AUTHENTICATIONFAILED" in html
    assert imap_server.password not in html
    assert 'data-testid="imap-error"' in as_alice.get(reverse("email-status")).content.decode()
    # Saving without the password keeps it; the wrong one is reported at its step.
    wrong = as_alice.post(url, _form(imap_server, action="test", password="not-the-password"))
    assert 'data-ok="false"' in wrong.content.decode() and "not-the-password" not in wrong.content.decode()
    assert as_alice.post(url, _form(imap_server, password="")).status_code == 302
    assert EspConfig.objects.get(pk=config.pk).get_imap_password() == imap_server.password
    assert as_alice.post(url, {"action": "remove"}).status_code == 302
    assert not EspConfig.objects.get(pk=config.pk).has_bounce_mailbox


def test_plaintext_and_guarded_hosts_are_refused_next_to_their_fields(as_alice, alice, settings):
    _smtp(user=alice)
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False
    response = as_alice.post(
        reverse("email-bounce-mailbox"),
        {"host": "10.0.0.5", "security": "tls", "username": "u", "password": IMAP_SECRET, "action": "save"},
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "host")
    assert IMAP_SECRET not in response.content.decode()


def test_without_a_custom_smtp_server_the_page_sends_you_back(as_alice):
    response = as_alice.get(reverse("email-bounce-mailbox"))
    assert response.status_code == 302 and response["Location"] == reverse("email-status")


def test_members_see_the_organizations_mailbox_and_only_managers_change_it(as_bob, as_alice, org):
    _smtp(organization=org)
    url = reverse("org-email-bounce-mailbox", args=[org.pk])
    page = as_bob.get(url)
    assert page.status_code == 200 and 'data-testid="read-only"' in page.content.decode()
    assert as_bob.post(url, {"action": "remove"}).status_code == 403
    assert as_alice.get(url).status_code == 200


def test_the_page_speaks_swedish(as_alice, alice):
    _smtp(user=alice)
    html = as_alice.get(reverse("email-bounce-mailbox"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Brevlåda för studsar" in html and "Hämta studsar från den här brevlådan" in html

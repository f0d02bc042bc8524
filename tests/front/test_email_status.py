"""Account → Email status: the effective provider and why, the choice, the custom form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.esp.models import EspConfig
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db

SECRET = "pa55-Never-Shown-42"


def _smtp_form(**overrides):
    data = {
        "host": "smtp.example.com",
        "port": "587",
        "security": "starttls",
        "from_email": "news@example.com",
        "username": "mailer",
        "password": SECRET,
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_shows_the_effective_provider_and_the_reason(as_alice, org, operator_providers):
    r = as_alice.get(reverse("email-status"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "SendGrid" in html
    assert "the server&#x27;s default provider" in html
    assert f'data-testid="org-effective-{org.pk}"' in html
    for category in ["Response receipts", "Organization invitations", "Workspace invitations", "System messages"]:
        assert category in html
    assert "mail.example.com" in html and "sendgrid.net" in html
    assert "mail02.example.com" in html and "mailjet.com" in html


def test_choosing_a_standard_provider_saves_it(as_alice, alice, operator_providers):
    r = as_alice.post(reverse("email-choose"), {"kind": "mailjet"})
    assert r.status_code == 302
    assert EspConfig.objects.get(user=alice).kind == "mailjet"
    html = as_alice.get(reverse("email-status")).content.decode()
    assert "Mailjet" in html
    assert "your personal setting" in html


def test_unavailable_providers_are_shown_disabled(as_alice, alice, settings):
    settings.OPENESP_SENDGRID_API_KEY = ""
    html = as_alice.get(reverse("email-choose")).content.decode()
    assert 'data-testid="unavailable-sendgrid"' in html
    assert "Not available on this server" in html
    assert 'data-testid="use-sendgrid"' not in html
    r = as_alice.post(reverse("email-choose"), {"kind": "sendgrid"})
    assert r.status_code == 400
    assert not EspConfig.objects.filter(user=alice).exists()


def test_custom_form_saves_and_never_shows_the_password(as_alice, alice):
    r = as_alice.post(reverse("email-custom"), _smtp_form())
    assert r.status_code == 302
    config = EspConfig.objects.get(user=alice)
    assert (config.kind, config.host, config.port, config.username) == ("smtp", "smtp.example.com", 587, "mailer")
    assert config.get_password() == SECRET
    for name in ["email-status", "email-choose", "email-custom"]:
        html = as_alice.get(reverse(name)).content.decode()
        assert SECRET not in html
        assert config.password_encrypted not in html
    html = as_alice.get(reverse("email-custom")).content.decode()
    assert "A password is set" in html
    assert 'value="smtp.example.com"' in html


def test_an_empty_password_field_keeps_the_stored_password(as_alice, alice):
    as_alice.post(reverse("email-custom"), _smtp_form())
    r = as_alice.post(reverse("email-custom"), _smtp_form(password="", from_email="other@example.com"))
    assert r.status_code == 302
    config = EspConfig.objects.get(user=alice)
    assert config.from_email == "other@example.com"
    assert config.get_password() == SECRET


def test_form_errors_name_the_field(as_alice, alice):
    r = as_alice.post(reverse("email-custom"), _smtp_form(host="smtp.gmail.com"))
    assert r.status_code == 400
    html = r.content.decode()
    assert field_error(html, "host")
    assert "consumer mailbox" in html
    assert SECRET not in html  # not even the password just typed is sent back

    r = as_alice.post(reverse("email-custom"), _smtp_form(from_email="not an address", port="99999x"))
    html = r.content.decode()
    assert field_error(html, "from_email")
    assert field_error(html, "port")
    assert not field_error(html, "host")

    r = as_alice.post(reverse("email-custom"), _smtp_form(password="", username="mailer"))
    assert field_error(r.content.decode(), "password")
    assert not EspConfig.objects.filter(user=alice).exists()


def test_the_custom_page_lists_the_egress_ips(as_alice, settings):
    settings.OPENESP_EGRESS_IPS = ["20.67.184.104", "51.104.183.88"]
    html = as_alice.get(reverse("email-custom")).content.decode()
    assert "20.67.184.104" in html and "51.104.183.88" in html
    assert "bounce" in html
    settings.OPENESP_EGRESS_IPS = []
    html = as_alice.get(reverse("email-custom")).content.decode()
    assert 'data-testid="egress-none"' in html


def test_removing_the_personal_setting(as_alice, alice, operator_providers):
    as_alice.post(reverse("email-choose"), {"kind": "mailjet"})
    assert as_alice.get(reverse("email-remove")).status_code == 405
    r = as_alice.post(reverse("email-remove"))
    assert r.status_code == 302
    assert not EspConfig.objects.filter(user=alice).exists()


def test_an_enforced_organization_provider_wins_with_its_reason(as_bob, alice, bob, org, operator_providers):
    EspConfig.objects.create(user=bob, kind="sendgrid")
    EspConfig.objects.create(organization=org, kind="mailjet", enforced=True)
    html = as_bob.get(reverse("email-status")).content.decode()
    assert "enforced by organization Acme" in html

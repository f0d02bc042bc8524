"""Organization → Settings → Email provider: owners and admins change it, members only look."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.esp.models import EspConfig

pytestmark = pytest.mark.django_db


def test_alice_chooses_and_enforces_the_organization_provider(as_alice, org, operator_providers):
    r = as_alice.get(reverse("org-settings", args=[org.pk]))
    assert r.status_code == 200
    assert 'data-testid="choose-org-provider"' in r.content.decode()
    r = as_alice.post(reverse("org-email-choose", args=[org.pk]), {"kind": "sendgrid"})
    assert r.status_code == 302
    r = as_alice.post(reverse("org-email-enforce", args=[org.pk]), {"enforced": "on"})
    assert r.status_code == 302
    config = EspConfig.objects.get(organization=org)
    assert (config.kind, config.enforced) == ("sendgrid", True)
    html = as_alice.get(reverse("org-settings", args=[org.pk])).content.decode()
    assert "Enforced for all members" in html
    as_alice.post(reverse("org-email-enforce", args=[org.pk]), {})
    assert not EspConfig.objects.get(organization=org).enforced


def test_enforcing_without_a_provider_says_why(as_alice, org):
    r = as_alice.post(reverse("org-email-enforce", args=[org.pk]), {"enforced": "on"}, follow=True)
    assert "choose the organization&#x27;s provider before enforcing it" in r.content.decode()


def test_bob_sees_the_settings_read_only(as_bob, org, operator_providers):
    EspConfig.objects.create(organization=org, kind="mailjet", enforced=True)
    for name in ["org-settings", "org-email-choose", "org-email-custom"]:
        r = as_bob.get(reverse(name, args=[org.pk]))
        assert r.status_code == 200, name
        html = r.content.decode()
        assert 'data-testid="read-only"' in html, name
    html = as_bob.get(reverse("org-settings", args=[org.pk])).content.decode()
    assert 'data-testid="enforce"' in html and "disabled" in html
    assert 'data-testid="test-saved"' not in html
    assert "Mailjet" in html


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("org-email-choose", {"kind": "sendgrid"}),
        (
            "org-email-custom",
            {
                "host": "smtp.example.com",
                "port": "587",
                "security": "starttls",
                "from_email": "a@example.com",
                "action": "save",
            },
        ),
        ("org-email-enforce", {}),
        ("org-email-remove", {}),
        ("org-email-test", {}),
        ("org-settings", {"name": "Bob's Acme"}),
    ],
)
def test_bob_cannot_change_them(as_bob, org, operator_providers, name, data):
    EspConfig.objects.create(organization=org, kind="mailjet", enforced=True)
    r = as_bob.post(reverse(name, args=[org.pk]), data)
    assert r.status_code == 403
    assert "Only an owner or an admin" in r.content.decode()
    config = EspConfig.objects.get(organization=org)
    assert (config.kind, config.enforced) == ("mailjet", True)
    org.refresh_from_db()
    assert org.name == "Acme"


def test_org_custom_form_keeps_the_password_secret(as_alice, org):
    secret = "org-Secret-99-never-shown"
    r = as_alice.post(
        reverse("org-email-custom", args=[org.pk]),
        {
            "host": "smtp.example.com",
            "port": "587",
            "security": "starttls",
            "from_email": "a@example.com",
            "username": "u",
            "password": secret,
            "action": "save",
        },
    )
    assert r.status_code == 302
    for name in ["org-settings", "org-email-choose", "org-email-custom"]:
        assert secret not in as_alice.get(reverse(name, args=[org.pk])).content.decode()


def test_renaming_and_removing(as_alice, org, operator_providers):
    r = as_alice.post(reverse("org-settings", args=[org.pk]), {"name": "   "})
    assert r.status_code == 400
    assert 'data-error-for="name"' in r.content.decode()
    as_alice.post(reverse("org-settings", args=[org.pk]), {"name": "Acme AB"})
    org.refresh_from_db()
    assert org.name == "Acme AB"
    as_alice.post(reverse("org-email-choose", args=[org.pk]), {"kind": "mailjet"})
    as_alice.post(reverse("org-email-remove", args=[org.pk]))
    assert not EspConfig.objects.filter(organization=org).exists()

"""Pages that queue mail say what really happened (issue 10, item 2): on its way when a provider
carries it, "queued — … no email provider yet: set one up" with the link when none can; the
operator's Outbox shows the platform mail that waits, with its links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from openesp.accounts import actions
from openesp.accounts.models import User
from openesp.esp.models import EspConfig

pytestmark = pytest.mark.django_db

SIGNUP = {"email": "dana@example.net", "name": "Dana", "password": "a long enough passphrase 42"}


def test_sign_up_without_a_provider_says_the_link_is_queued_and_where_to_set_one_up(client):
    html = client.post(reverse("signup"), SIGNUP, follow=True).content.decode()
    assert "The link to confirm dana@example.net is queued — you have no email provider yet" in html
    assert f'href="{reverse("email-status")}" data-testid="setup-provider"' in html
    assert "operator can read it in the Outbox" in html
    assert "We sent a link" not in html


def test_sign_up_with_a_provider_says_sent(client, operator_providers):
    html = client.post(reverse("signup"), SIGNUP, follow=True).content.decode()
    assert "We sent a link to dana@example.net" in html and "is queued —" not in html


def test_the_dashboard_does_not_claim_a_link_was_sent_when_it_waits(client):
    client.post(reverse("signup"), SIGNUP)
    html = client.get(reverse("home")).content.decode()
    assert "we sent a link to" not in html
    assert "waits: no email provider can send it yet" in html


def test_inviting_without_a_provider_points_the_admin_at_the_organization_settings(as_alice, org):
    response = as_alice.post(reverse("org-invitations", args=[org.pk]), {"email": "dana@example.net", "role": "member"})
    html = as_alice.get(response["Location"]).content.decode()
    assert "The invitation to dana@example.net is queued — your organization has no email provider yet" in html
    assert f'href="{reverse("org-settings", args=[org.pk])}"' in html
    assert "An invitation has been sent" not in html


def test_inviting_with_a_provider_says_sent(as_alice, org, operator_providers):
    response = as_alice.post(reverse("org-invitations", args=[org.pk]), {"email": "dana@example.net", "role": "member"})
    assert "An invitation has been sent to dana@example.net" in as_alice.get(response["Location"]).content.decode()


def test_resending_the_confirmation_is_honest_too(client):
    client.post(reverse("signup"), SIGNUP)
    html = client.post(reverse("verify-email-resend"), follow=True).content.decode()
    assert "A new confirmation link to dana@example.net is queued" in html


# --- the Outbox ---------------------------------------------------------------------------------


@pytest.fixture
def operator(db) -> Client:
    user = User.objects.create_superuser("op@example.com", "operator passphrase 1")
    client = Client()
    client.force_login(user)
    return client


def test_the_outbox_shows_waiting_platform_mail_with_its_links(operator, client, alice, org):
    client.post(reverse("signup"), SIGNUP)
    actions.invite(alice, org.pk, "erin@example.net")
    html = operator.get(reverse("outbox")).content.decode()
    links = re.findall(r'href="([^"]+)" class="mono small" data-testid="outbox-link"', html)
    assert any("/verify/" in link for link in links) and any("/invitations/" in link for link in links)
    assert "dana@example.net" in html and "erin@example.net" in html
    assert "no provider is configured" in html
    # The verification link in the Outbox works.
    verify = next(link for link in links if "/verify/" in link)
    assert Client().get(urlsplit(verify).path).status_code == 200
    assert User.objects.get(email="dana@example.net").email_verified


def test_mail_a_provider_carries_is_not_in_the_outbox(operator, alice, org):
    actions.invite(alice, org.pk, "erin@example.net")
    EspConfig.objects.create(
        organization=org, kind="smtp", host="smtp.acme.example", port=587, from_email="news@acme.example"
    )
    html = operator.get(reverse("outbox")).content.decode()
    assert "erin@example.net" not in html and 'data-testid="outbox-empty"' in html


def test_the_outbox_is_the_operators_alone(as_alice, client, alice, org):
    actions.invite(alice, org.pk, "erin@example.net")
    assert as_alice.get(reverse("outbox")).status_code == 404
    assert client.get(reverse("outbox")).status_code == 302  # to the log-in page
    assert 'data-testid="nav-outbox"' not in as_alice.get(reverse("home")).content.decode()


def test_a_superuser_is_pointed_at_the_outbox(operator):
    html = operator.post(reverse("verify-email-resend"), follow=True).content.decode()
    assert 'data-testid="nav-outbox"' in html


def test_createuser_superuser_makes_the_operator(tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text("operator passphrase 1\n")
    call_command("createuser", "op@example.com", "--password-file", str(password_file), "--superuser")
    user = User.objects.get(email="op@example.com")
    assert user.is_superuser and user.email_verified


def test_the_note_speaks_swedish(client):
    html = client.post(reverse("signup"), SIGNUP, follow=True, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Länken för att bekräfta dana@example.net ligger i kö — du har ingen e-postleverantör än" in html
    assert "ställ in en" in html and "Serverns operatör kan läsa det i utkorgen." in html


def test_inviting_the_same_address_twice_warns_that_the_first_link_is_replaced(as_alice, org):
    url = reverse("org-invitations", args=[org.pk])
    first = as_alice.post(url, {"email": "dana@example.net", "role": "member"}, follow=True).content.decode()
    assert "already had a pending invitation" not in first
    second = as_alice.post(url, {"email": "Dana@Example.net", "role": "member"}, follow=True).content.decode()
    assert "dana@example.net already had a pending invitation here: it is replaced" in second

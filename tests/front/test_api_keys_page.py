"""The API keys page (issue 10, item 5): personal and workspace keys made with scopes, the key
shown once with a copy button, listed by prefix with last use and scopes, revoked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from openesp.accounts.apikeys import authenticate, create_api_key
from openesp.accounts.models import ApiKey

pytestmark = pytest.mark.django_db

KEY = re.compile(r'value="(oe_[a-z0-9]{8}_[A-Za-z0-9_-]{43,})"')


def test_a_personal_key_is_made_with_its_scopes_and_shown_once(as_alice, alice):
    response = as_alice.post(
        reverse("api-keys"), {"name": "deploy", "workspace": "", "scopes": ["messages.send", "messages.read"]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    secret = KEY.search(html).group(1)
    assert 'data-copy="new-key-value"' in html
    assert "no-store" in response["Cache-Control"]
    key = authenticate(secret)
    assert key is not None and key.user == alice and key.workspace is None
    assert key.scopes == ["messages.send", "messages.read"] and key.name == "deploy"
    # The list names it by its prefix; the secret never shows again.
    again = as_alice.get(reverse("api-keys")).content.decode()
    assert f"oe_{key.prefix}_…" in again
    assert secret not in again and "messages.read" in again


def test_a_workspace_key_stays_in_its_workspace(as_alice, alice, workspace):
    as_alice.post(reverse("api-keys"), {"name": "", "workspace": str(workspace.pk), "scopes": ["contacts"]})
    key = ApiKey.objects.get(user=alice)
    assert key.workspace == workspace and key.scopes == ["contacts"]


def test_the_account_scope_is_refused_for_a_workspace_key_next_to_the_field(as_alice, workspace):
    response = as_alice.post(reverse("api-keys"), {"workspace": str(workspace.pk), "scopes": ["account", "contacts"]})
    assert response.status_code == 400
    assert 'data-error-for="scopes"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_workspace_the_user_cannot_reach_is_refused(as_alice, charlie_org):
    other = charlie_org.workspaces.create(name="Secret")
    response = as_alice.post(reverse("api-keys"), {"workspace": str(other.pk), "scopes": ["contacts"]})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_no_scope_is_refused(as_alice):
    response = as_alice.post(reverse("api-keys"), {"workspace": ""})
    assert response.status_code == 400
    assert 'data-error-for="scopes"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_last_use_shows_once_the_key_is_used(as_alice, alice):
    row, secret = create_api_key(alice, scopes=["messages.read"])
    assert 'data-testid="last-used"><span class="muted">never' in as_alice.get(reverse("api-keys")).content.decode()
    response = as_alice.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code in (200, 403)  # the key was checked either way
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert row.last_used_at.strftime("%Y-%m-%d %H:%M") in as_alice.get(reverse("api-keys")).content.decode()


def test_revoking_stops_the_key(as_alice, alice):
    row, secret = create_api_key(alice)
    response = as_alice.post(reverse("api-key-revoke", args=[row.pk]))
    assert response.status_code == 302
    assert authenticate(secret) is None
    assert "Revoked" in as_alice.get(reverse("api-keys")).content.decode()


def test_another_users_key_is_a_404_and_stays_live(as_charlie, alice):
    row, secret = create_api_key(alice)
    assert as_charlie.post(reverse("api-key-revoke", args=[row.pk])).status_code == 404
    assert authenticate(secret) is not None
    assert f"oe_{row.prefix}" not in as_charlie.get(reverse("api-keys")).content.decode()


def test_the_page_needs_a_login(client):
    response = client.get(reverse("api-keys"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_speaks_swedish(as_alice):
    html = as_alice.get(reverse("api-keys"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    for text in ["API-nycklar", "Skapa nyckel", "Personlig nyckel", "Behörigheter", "messages.send — skicka e-post"]:
        assert text in html, text

"""openesp.accounts.apikeys: keys are shown once, stored as prefix + HMAC, and checked in constant time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from openesp.accounts.apikeys import authenticate, create_api_key, revoke_api_key
from openesp.accounts.models import SCOPES, ApiKey
from openesp.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_it_stores_no_plain_key(alice):
    row, key = create_api_key(alice, name="deploy")
    assert key.startswith(f"oe_{row.prefix}_")
    assert len(key.split("_", 2)[2]) >= 43  # 32 random bytes, base64url
    stored = ApiKey.objects.filter(pk=row.pk).values().get()
    secret = key.split("_", 2)[2]
    for value in stored.values():
        assert secret not in str(value)
    assert row.key_hash != key


def test_it_authenticates_the_whole_key_only(alice):
    row, key = create_api_key(alice)
    assert authenticate(key) == row
    assert authenticate(f"oe_{row.prefix}_") is None
    assert authenticate(row.prefix) is None
    assert authenticate(row.key_hash) is None
    assert authenticate(f"oe_{row.prefix}_{'A' * 43}") is None
    assert authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert authenticate("") is None
    assert authenticate("not a key at all") is None


def test_it_refuses_a_revoked_key(alice):
    row, key = create_api_key(alice)
    revoke_api_key(alice, row.pk)
    assert authenticate(key) is None


def test_it_refuses_a_key_of_an_inactive_user(alice):
    _row, key = create_api_key(alice)
    alice.is_active = False
    alice.save()
    assert authenticate(key) is None


def test_it_does_not_revoke_another_users_key(alice, bob):
    row, key = create_api_key(alice)
    with pytest.raises(Http404):
        revoke_api_key(bob, row.pk)
    assert authenticate(key) == row


def test_it_gives_a_personal_key_every_scope(alice):
    row, _key = create_api_key(alice)
    assert row.scopes == list(SCOPES)


def test_it_keeps_the_account_scope_from_workspace_keys(alice, workspace):
    row, _key = create_api_key(alice, workspace=workspace)
    assert "account" not in row.scopes
    with pytest.raises(InvalidInput) as exc:
        create_api_key(alice, workspace=workspace, scopes=["account"])
    assert exc.value.problems[0].field == "scopes"


def test_it_refuses_an_unknown_scope(alice):
    with pytest.raises(InvalidInput) as exc:
        create_api_key(alice, scopes=["esp", "root"])
    assert exc.value.as_dict() == {"scopes": "unknown scope 'root'; expected some of " + ", ".join(SCOPES)}
    assert not ApiKey.objects.exists()


def test_it_needs_access_to_the_workspace(charlie, workspace):
    with pytest.raises(Http404):
        create_api_key(charlie, workspace=workspace)
    assert not ApiKey.objects.exists()


def test_it_stops_a_workspace_key_when_its_user_loses_the_workspace(bob, workspace):
    _row, key = create_api_key(bob, workspace=workspace)
    assert authenticate(key) is not None
    bob.memberships.get().workspaces.clear()
    assert authenticate(key) is None


def test_it_records_use_at_most_once_a_minute(alice):
    row, key = create_api_key(alice)
    authenticate(key)
    first = ApiKey.objects.get(pk=row.pk).last_used_at
    assert first is not None
    authenticate(key)
    assert ApiKey.objects.get(pk=row.pk).last_used_at == first
    ApiKey.objects.filter(pk=row.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    authenticate(key)
    assert ApiKey.objects.get(pk=row.pk).last_used_at > timezone.now() - timedelta(seconds=30)

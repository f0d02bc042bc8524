from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_describes_the_caller(alice_api, alice, org, charlie_org):
    response = alice_api.get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "email", "name", "language", "email_verified")} == {
        "id": alice.pk,
        "email": "alice@example.org",
        "name": "Alice",
        "language": "",
        "email_verified": True,
    }
    assert body["organizations"] == [{"id": org.pk, "name": "Acme", "role": "owner"}]
    assert body["api_key"]["workspace_id"] is None
    assert "key_hash" not in response.content.decode()


def test_it_lists_a_members_role(bob_api, org):
    assert bob_api.get("/api/v1/me").json()["organizations"] == [{"id": org.pk, "name": "Acme", "role": "member"}]

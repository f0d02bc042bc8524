"""``/api/v1/api-keys`` and the ``openesp apikey`` command."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from openesp.accounts.models import SCOPES, ApiKey
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db


def test_it_shows_a_new_key_once(alice_api, alice):
    response = alice_api.post("/api/v1/api-keys", {"name": "ci", "scopes": ["esp"]})
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith(f"oe_{body['prefix']}_")
    assert (body["name"], body["scopes"], body["workspace_id"]) == ("ci", ["esp"], None)
    assert Api(body["key"]).get("/api/v1/esp/effective").status_code == 200
    listing = alice_api.get("/api/v1/api-keys")
    assert body["id"] in [k["id"] for k in listing.json()]
    assert body["key"] not in listing.content.decode()
    assert "key" not in listing.json()[0]


def test_it_creates_a_workspace_key(alice_api, workspace, org):
    body = alice_api.post("/api/v1/api-keys", {"workspace": workspace.pk}).json()
    assert body["workspace_id"] == workspace.pk
    assert body["scopes"] == [s for s in SCOPES if s != "account"]


def test_it_refuses_a_workspace_the_caller_cannot_use(charlie_api, workspace):
    response = charlie_api.post("/api/v1/api-keys", {"workspace": workspace.pk})
    assert response.status_code == 404
    assert not ApiKey.objects.filter(workspace=workspace).exists()


def test_it_refuses_unknown_scopes(alice_api):
    response = alice_api.post("/api/v1/api-keys", {"scopes": ["esp", "everything"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes"


def test_it_grants_no_more_than_the_caller_holds(alice):
    api = api_for(alice, scopes=["account", "esp"])
    assert api.post("/api/v1/api-keys", {"scopes": ["organizations"]}).status_code == 403
    assert api.post("/api/v1/api-keys", {}).json()["scopes"] == ["account", "esp"]


def test_it_revokes_a_key(alice_api, alice):
    body = alice_api.post("/api/v1/api-keys", {"name": "old"}).json()
    assert alice_api.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    assert Api(body["key"]).get("/api/v1/me").status_code == 401
    listed = next(k for k in alice_api.get("/api/v1/api-keys").json() if k["id"] == body["id"])
    assert listed["revoked_at"] is not None


# --- the command line -----------------------------------------------------------------------------


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_only_a_working_key(alice):
    out, _err = _run("create", "--user", "alice@example.org")
    key = out.strip()
    assert out == key + "\n"
    assert key.startswith("oe_")
    response = Api(key).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.org"
    assert response.json()["api_key"]["scopes"] == list(SCOPES)


def test_it_creates_a_scoped_workspace_key(alice, workspace):
    out, _err = _run(
        "create", "--user", "ALICE@example.org", "--workspace", str(workspace.pk), "--scope", "esp", "--name", "shop"
    )
    key = ApiKey.objects.get(workspace=workspace)
    assert out.strip().startswith(f"oe_{key.prefix}_")
    assert (key.scopes, key.name) == (["esp"], "shop")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--user", "nobody@example.org"], "--user"),
        (["--user", "alice@example.org", "--scope", "root"], "--scope"),
        (["--user", "alice@example.org", "--workspace", "999999"], "--workspace"),
        (["--user", "alice@example.org", "--name", "x" * 101], "--name"),
    ],
)
def test_it_names_the_option_at_fault(alice, args, option):
    with pytest.raises(CommandError, match=f"^{option}: "):
        _run("create", *args)
    assert not ApiKey.objects.exists()


def test_it_lists_and_revokes_by_prefix(alice):
    key = _run("create", "--user", "alice@example.org", "--name", "deploy")[0].strip()
    prefix = key.split("_")[1]
    out, _err = _run("list", "--user", "alice@example.org")
    assert prefix in out and "deploy" in out and "active" in out
    assert key.split("_", 2)[2] not in out
    _run("revoke", prefix)
    assert Api(key).get("/api/v1/me").status_code == 401
    assert "revoked" in _run("list", "--user", "alice@example.org")[0]
    with pytest.raises(CommandError, match=r"^PREFIX: "):
        _run("revoke", "zzzzzzzz")

"""Organizations, workspaces, members and invitations over the API."""

from __future__ import annotations

import re

import pytest

from openesp.accounts.actions import INVITATION_PURPOSE
from openesp.accounts.models import Invitation, Membership, Organization, Role, Workspace
from openesp.lib.tokens import token_hash
from openesp.messaging.models import Message

pytestmark = pytest.mark.django_db


# --- organizations ------------------------------------------------------------------------------


def test_it_creates_an_organization_with_the_caller_as_owner(charlie_api, charlie):
    response = charlie_api.post("/api/v1/organizations", {"name": "  Initech  "})
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("name", "role")} == {"name": "Initech", "role": "owner"}
    assert Membership.objects.get(organization_id=body["id"]).user == charlie
    assert charlie_api.get(f"/api/v1/organizations/{body['id']}").json() == body
    assert body in charlie_api.get("/api/v1/organizations").json()


def test_it_refuses_an_empty_name(charlie_api):
    response = charlie_api.post("/api/v1/organizations", {"name": "   "})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "reason": "must not be empty"}]
    assert not Organization.objects.exists()


def test_it_lists_only_the_callers_organizations(bob_api, org, charlie_org):
    [only] = bob_api.get("/api/v1/organizations").json()
    assert {k: only[k] for k in ("id", "name", "role")} == {"id": org.pk, "name": "Acme", "role": "member"}


def test_it_lets_admins_rename_and_owners_delete(alice_api, bob_api, org):
    assert bob_api.patch(f"/api/v1/organizations/{org.pk}", {"name": "Bob Inc"}).status_code == 403
    response = alice_api.patch(f"/api/v1/organizations/{org.pk}", {"name": "Acme AB"})
    assert response.status_code == 200
    assert response.json()["name"] == "Acme AB"
    assert bob_api.delete(f"/api/v1/organizations/{org.pk}").status_code == 403
    assert Organization.objects.filter(pk=org.pk).exists()
    assert alice_api.delete(f"/api/v1/organizations/{org.pk}").status_code == 204
    assert not Organization.objects.filter(pk=org.pk).exists()


# --- workspaces ------------------------------------------------------------------------------------


def test_it_creates_and_manages_workspaces(alice_api, bob_api, org, workspace):
    response = alice_api.post(f"/api/v1/organizations/{org.pk}/workspaces", {"name": "Sales"})
    assert response.status_code == 201
    sales = response.json()
    assert (sales["name"], sales["organization_id"]) == ("Sales", org.pk)
    # alice (owner) sees every workspace; bob only the one he was given.
    assert {w["name"] for w in alice_api.get(f"/api/v1/organizations/{org.pk}/workspaces").json()} == {
        "Marketing",
        "Sales",
    }
    assert [w["name"] for w in bob_api.get(f"/api/v1/organizations/{org.pk}/workspaces").json()] == ["Marketing"]
    assert bob_api.get(f"/api/v1/workspaces/{sales['id']}").status_code == 404
    assert bob_api.get(f"/api/v1/workspaces/{workspace.pk}").json()["name"] == "Marketing"
    assert bob_api.patch(f"/api/v1/workspaces/{workspace.pk}", {"name": "Mine"}).status_code == 403
    assert alice_api.patch(f"/api/v1/workspaces/{sales['id']}", {"name": "Sales EU"}).json()["name"] == "Sales EU"
    assert bob_api.post(f"/api/v1/organizations/{org.pk}/workspaces", {"name": "X"}).status_code == 403
    assert alice_api.delete(f"/api/v1/workspaces/{sales['id']}").status_code == 204
    assert not Workspace.objects.filter(pk=sales["id"]).exists()


# --- members -------------------------------------------------------------------------------------


def test_it_lists_and_changes_members(alice_api, bob_api, org, workspace, bob):
    members = alice_api.get(f"/api/v1/organizations/{org.pk}/members").json()
    assert [(m["email"], m["role"]) for m in members] == [("alice@example.org", "owner"), ("bob@example.org", "member")]
    bob_membership = next(m for m in members if m["email"] == "bob@example.org")
    assert bob_membership["workspaces"] == [workspace.pk]
    url = f"/api/v1/organizations/{org.pk}/members/{bob_membership['id']}"

    assert bob_api.patch(url, {"role": "admin"}).status_code == 403
    response = alice_api.patch(url, {"role": "viewer", "workspaces": []})
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["workspaces"]) == ("viewer", [])
    assert alice_api.patch(url, {"role": "emperor"}).json()["errors"][0]["field"] == "role"
    assert alice_api.delete(url).status_code == 204
    assert not Membership.objects.filter(user=bob, organization=org).exists()


def test_it_refuses_a_workspace_of_another_organization(alice_api, org, charlie_org):
    foreign = Workspace.objects.create(organization=charlie_org, name="Theirs")
    alice_id = Membership.objects.get(organization=org, role=Role.OWNER).pk
    url = f"/api/v1/organizations/{org.pk}/members/{alice_id}"
    response = alice_api.patch(url, {"workspaces": [foreign.pk]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspaces"


def test_it_keeps_the_last_owner(alice_api, org):
    alice_id = Membership.objects.get(organization=org, role=Role.OWNER).pk
    response = alice_api.delete(f"/api/v1/organizations/{org.pk}/members/{alice_id}")
    assert response.status_code == 422
    assert Membership.objects.filter(pk=alice_id).exists()


def test_it_lets_a_member_leave(bob_api, org, bob):
    membership = Membership.objects.get(organization=org, user=bob)
    assert bob_api.delete(f"/api/v1/organizations/{org.pk}/members/{membership.pk}").status_code == 204


# --- invitations -----------------------------------------------------------------------------------


def _token_of(invitation_id: int) -> str:
    """The token is only in the queued mail; tests read it from there, as the invitee would."""
    message = Message.objects.get(metadata__invitation_id=str(invitation_id))
    token = re.search(r"/invitations/([\w-]+)/", message.text_body).group(1)
    assert Invitation.objects.get(pk=invitation_id).token_hash == token_hash(token, INVITATION_PURPOSE)
    return token


def test_it_invites_without_revealing_the_token(alice_api, org, workspace):
    response = alice_api.post(
        f"/api/v1/organizations/{org.pk}/invitations",
        {"email": "dana@example.com", "role": "member", "workspace": workspace.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["status"], body["workspace_id"], body["kind"]) == (
        "dana@example.com",
        "pending",
        workspace.pk,
        "workspace",
    )
    assert body["expires_at"]
    assert "token" not in response.content.decode()
    token = _token_of(body["id"])
    assert token not in response.content.decode()
    listing = alice_api.get(f"/api/v1/organizations/{org.pk}/invitations")
    assert [i["id"] for i in listing.json()] == [body["id"]]
    assert token not in listing.content.decode()


def test_it_refuses_bad_invitations(alice_api, bob_api, org, charlie_org):
    url = f"/api/v1/organizations/{org.pk}/invitations"
    assert bob_api.post(url, {"email": "dana@example.com"}).status_code == 403
    assert bob_api.get(url).status_code == 403
    response = alice_api.post(url, {"email": "not-an-address"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "email")
    foreign = Workspace.objects.create(organization=charlie_org, name="Theirs")
    response = alice_api.post(url, {"email": "dana@example.com", "workspace": foreign.pk})
    assert response.json()["errors"] == [{"field": "workspace", "reason": "no such workspace in this organization"}]
    assert not Invitation.objects.exists()


def test_it_accepts_an_invitation(alice_api, charlie_api, charlie, org):
    invitation_id = alice_api.post(
        f"/api/v1/organizations/{org.pk}/invitations", {"email": "charlie@example.net", "role": "admin"}
    ).json()["id"]
    token = _token_of(invitation_id)
    response = charlie_api.post("/api/v1/invitations/accept", {"token": token})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["organization"]["id"] == org.pk
    assert body["organization"]["role"] == "admin"
    assert Membership.objects.get(organization=org, user=charlie).role == Role.ADMIN
    again = charlie_api.post("/api/v1/invitations/accept", {"token": token})
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "token"


def test_it_accepts_only_for_the_invited_address(alice_api, charlie_api, org):
    invitation_id = alice_api.post(f"/api/v1/organizations/{org.pk}/invitations", {"email": "dana@example.com"}).json()[
        "id"
    ]
    response = charlie_api.post("/api/v1/invitations/accept", {"token": _token_of(invitation_id)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"


def test_it_declines_and_revokes(alice_api, charlie_api, org):
    url = f"/api/v1/organizations/{org.pk}/invitations"
    first = alice_api.post(url, {"email": "charlie@example.net"}).json()["id"]
    response = charlie_api.post("/api/v1/invitations/decline", {"token": _token_of(first)})
    assert response.json() == {"status": "declined"}
    second = alice_api.post(url, {"email": "erin@example.com"}).json()["id"]
    response = alice_api.delete(f"/api/v1/invitations/{second}")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert alice_api.delete(f"/api/v1/invitations/{second}").status_code == 422
    bad = charlie_api.post("/api/v1/invitations/decline", {"token": "made-up"})
    assert bad.json()["errors"] == [{"field": "token", "reason": "this invitation link is not valid"}]

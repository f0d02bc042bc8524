"""Organizations, workspaces, memberships and invitations."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts import actions
from openesp.accounts.access import (
    access_invitation,
    access_member,
    invitations_of,
    managed_organization_for,
    members_of,
    membership_for,
    memberships_of,
    workspace_named,
    workspaces_for,
)
from openesp.accounts.models import Invitation, Membership, Role, Workspace
from openesp.api.auth import ApiKeyAuth, Caller, caller, reach_workspace
from openesp.api.errors import ERRORS
from openesp.api.params import Id, one_of

router = Router(auth=ApiKeyAuth("organizations"), tags=["organizations"])


class NameIn(Schema):
    name: str


class OrganizationOut(Schema):
    id: int
    name: str
    role: str = Field(description="your role: owner, admin, member or viewer")
    created_at: datetime


class WorkspaceOut(Schema):
    id: int
    name: str
    organization_id: int
    created_at: datetime


class MemberOut(Schema):
    id: int = Field(description="the membership id")
    user_id: int
    email: str
    name: str
    role: str
    workspaces: list[int]
    created_at: datetime


class MemberPatchIn(Schema):
    role: str | None = Field(
        None, description="owner, admin, member or viewer", json_schema_extra=one_of([*Role.values, None])
    )
    workspaces: list[Id] | None = Field(None, description="ids of the workspaces a member or viewer may use")


class InvitationIn(Schema):
    email: str
    role: str = Field(
        Role.MEMBER.value, description="owner, admin, member or viewer", json_schema_extra=one_of(Role.values)
    )
    workspace: Id | None = Field(None, description="invite to this workspace of the organization")


class InvitationOut(Schema):
    id: int
    kind: str
    organization_id: int
    workspace_id: int | None
    email: str
    role: str
    status: str = Field(description="pending, accepted, declined, revoked or expired")
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None


class TokenIn(Schema):
    token: str


class InvitationAcceptedOut(Schema):
    organization: OrganizationOut
    membership_id: int
    workspace_id: int | None


class DeclinedOut(Schema):
    status: str


def _org_out(membership: Membership) -> dict[str, object]:
    org = membership.organization
    return {"id": org.pk, "name": org.name, "role": membership.role, "created_at": org.created_at}


def _member(c: Caller, organization_id: int) -> Membership:
    return membership_for(c.user, c.reach(organization_id))


def _ws_out(workspace: Workspace) -> dict[str, object]:
    return {
        "id": workspace.pk,
        "name": workspace.name,
        "organization_id": workspace.organization_id,
        "created_at": workspace.created_at,
    }


def _member_out(m: Membership) -> dict[str, object]:
    return {
        "id": m.pk,
        "user_id": m.user_id,
        "email": m.user.email,
        "name": m.user.name,
        "role": m.role,
        "workspaces": sorted(w.pk for w in m.workspaces.all()),
        "created_at": m.created_at,
    }


def _invitation_out(i: Invitation) -> dict[str, object]:
    return {
        "id": i.pk,
        "kind": i.kind,
        "organization_id": i.organization_id,
        "workspace_id": i.workspace_id,
        "email": i.email,
        "role": i.role,
        "status": i.effective_status,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "responded_at": i.responded_at,
    }


# --- organizations ------------------------------------------------------------------------------


@router.get("/organizations", response={200: list[OrganizationOut], **ERRORS}, summary="Your organizations")
def list_organizations(request: HttpRequest) -> list[dict[str, object]]:
    return [_org_out(m) for m in memberships_of(caller(request).actor)]


@router.post(
    "/organizations",
    response={201: OrganizationOut, **ERRORS},
    summary="Create an organization; you become its owner",
)
def create_organization(request: HttpRequest, payload: NameIn) -> Status[dict[str, object]]:
    c = caller(request)
    # A workspace key is confined to its organization; creating another would step outside it.
    c.require_personal()
    organization = actions.create_organization(c.user, payload.name)
    return Status(201, _org_out(membership_for(c.user, organization.pk)))


@router.get("/organizations/{organization_id}", response={200: OrganizationOut, **ERRORS})
def get_organization(request: HttpRequest, organization_id: Id) -> dict[str, object]:
    return _org_out(_member(caller(request), organization_id))


@router.patch(
    "/organizations/{organization_id}",
    response={200: OrganizationOut, **ERRORS},
    summary="Rename (owners and admins)",
)
def patch_organization(request: HttpRequest, organization_id: Id, payload: NameIn) -> dict[str, object]:
    c = caller(request)
    actions.rename_organization(c.user, c.reach(organization_id), payload.name)
    return _org_out(membership_for(c.user, organization_id))


@router.delete(
    "/organizations/{organization_id}",
    response={204: None, **ERRORS},
    summary="Delete the organization and everything in it (owners)",
)
def delete_organization(request: HttpRequest, organization_id: Id) -> Status[None]:
    c = caller(request)
    actions.delete_organization(c.user, c.reach(organization_id))
    return Status(204, None)


# --- workspaces -------------------------------------------------------------------------------


@router.get(
    "/organizations/{organization_id}/workspaces",
    response={200: list[WorkspaceOut], **ERRORS},
    summary="The organization's workspaces you can use",
)
def list_workspaces(request: HttpRequest, organization_id: Id) -> list[dict[str, object]]:
    c = caller(request)
    membership = _member(c, organization_id)
    return [_ws_out(w) for w in workspaces_for(c.user, membership.organization)]


@router.post(
    "/organizations/{organization_id}/workspaces",
    response={201: WorkspaceOut, **ERRORS},
    summary="Create a workspace (owners and admins)",
)
def create_workspace(request: HttpRequest, organization_id: Id, payload: NameIn) -> Status[dict[str, object]]:
    c = caller(request)
    return Status(201, _ws_out(actions.create_workspace(c.user, c.reach(organization_id), payload.name)))


@router.get("/workspaces/{workspace_id}", response={200: WorkspaceOut, **ERRORS})
def get_workspace(request: HttpRequest, workspace_id: Id) -> dict[str, object]:
    return _ws_out(reach_workspace(caller(request), workspace_id))


@router.patch(
    "/workspaces/{workspace_id}", response={200: WorkspaceOut, **ERRORS}, summary="Rename (owners and admins)"
)
def patch_workspace(request: HttpRequest, workspace_id: Id, payload: NameIn) -> dict[str, object]:
    c = caller(request)
    return _ws_out(actions.rename_workspace(c.user, reach_workspace(c, workspace_id), payload.name))


@router.delete(
    "/workspaces/{workspace_id}",
    response={204: None, **ERRORS},
    summary="Delete the workspace and everything in it (owners and admins)",
)
def delete_workspace(request: HttpRequest, workspace_id: Id) -> Status[None]:
    c = caller(request)
    actions.delete_workspace(c.user, reach_workspace(c, workspace_id))
    return Status(204, None)


# --- members --------------------------------------------------------------------------------


@router.get("/organizations/{organization_id}/members", response={200: list[MemberOut], **ERRORS})
def list_members(request: HttpRequest, organization_id: Id) -> list[dict[str, object]]:
    organization = _member(caller(request), organization_id).organization
    members = members_of(organization).prefetch_related("workspaces").order_by("user__email")
    return [_member_out(m) for m in members]


@router.patch(
    "/organizations/{organization_id}/members/{membership_id}",
    response={200: MemberOut, **ERRORS},
    summary="Change a member's role or workspaces (owners and admins)",
)
def patch_member(
    request: HttpRequest, organization_id: Id, membership_id: Id, payload: MemberPatchIn
) -> dict[str, object]:
    c = caller(request)
    membership = access_member(c.actor, organization_id, membership_id)
    actions.change_membership(c.user, membership, role=payload.role, workspace_ids=payload.workspaces)
    return _member_out(membership)


@router.delete(
    "/organizations/{organization_id}/members/{membership_id}",
    response={204: None, **ERRORS},
    summary="Remove a member (owners and admins), or leave (your own membership)",
)
def delete_member(request: HttpRequest, organization_id: Id, membership_id: Id) -> Status[None]:
    c = caller(request)
    actions.remove_membership(c.user, access_member(c.actor, organization_id, membership_id))
    return Status(204, None)


# --- invitations ------------------------------------------------------------------------------


@router.get(
    "/organizations/{organization_id}/invitations",
    response={200: list[InvitationOut], **ERRORS},
    summary="The organization's invitations (owners and admins)",
)
def list_invitations(request: HttpRequest, organization_id: Id) -> list[dict[str, object]]:
    c = caller(request)
    organization = managed_organization_for(c.user, c.reach(organization_id)).organization
    return [_invitation_out(i) for i in invitations_of(organization)]


@router.post(
    "/organizations/{organization_id}/invitations",
    response={201: InvitationOut, **ERRORS},
    summary="Invite someone by e-mail (owners and admins); the link goes only to them",
)
def create_invitation(request: HttpRequest, organization_id: Id, payload: InvitationIn) -> Status[dict[str, object]]:
    c = caller(request)
    organization = managed_organization_for(c.user, c.reach(organization_id)).organization
    workspace = workspace_named(organization, payload.workspace) if payload.workspace is not None else None
    # The token is in the mail only: handing it to the inviter would let them accept for the invitee.
    invitation, _token = actions.invite(c.user, organization.pk, payload.email, payload.role, workspace)
    return Status(201, _invitation_out(invitation))


@router.post(
    "/invitations/accept",
    response={200: InvitationAcceptedOut, **ERRORS},
    summary="Accept an invitation sent to your address",
)
def accept_invitation(request: HttpRequest, payload: TokenIn) -> dict[str, object]:
    c = caller(request)
    c.require_personal()
    membership = actions.accept_invitation(c.user, payload.token)
    invitation = actions.invitation_by_token(payload.token)
    return {
        "organization": _org_out(membership),
        "membership_id": membership.pk,
        "workspace_id": invitation.workspace_id,
    }


@router.post("/invitations/decline", response={200: DeclinedOut, **ERRORS}, summary="Decline an invitation")
def decline_invitation(request: HttpRequest, payload: TokenIn) -> dict[str, object]:
    c = caller(request)
    c.require_personal()
    invitation = actions.decline_invitation(payload.token)
    return {"status": invitation.effective_status}


# Registered after accept/decline: Django tries URL patterns in order, and
# /invitations/{invitation_id} would otherwise take /invitations/accept.
@router.delete(
    "/invitations/{invitation_id}",
    response={200: InvitationOut, **ERRORS},
    summary="Revoke a pending invitation (owners and admins); answers the revoked invitation",
)
def revoke_invitation(request: HttpRequest, invitation_id: Id) -> dict[str, object]:
    c = caller(request)
    invitation = access_invitation(c.actor, invitation_id)
    return _invitation_out(actions.revoke_invitation(c.user, invitation))

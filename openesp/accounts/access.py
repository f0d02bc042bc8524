"""Every lookup of a tenant object goes through the caller.

"Missing" and "not yours" give the same ``Http404``, so an id guess learns nothing.

The caller is an ``Actor``: a user, optionally confined to one organization (what a workspace
API key is; the API's ``Caller.actor`` makes one, the web UI uses ``Actor(user)``). Objects of a
workspace are looked up with ``access_by_id``, which each app wraps per model in its own
``access`` module (``audience.access.access_contact``, ``messaging.access.access_message``,
``esp.access`` for provider configs, …); ``require_editor`` is the one check that a viewer may
look but not change. The tenancy's own objects (memberships, members, invitations) are looked
up here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils import timezone

from openesp.accounts.models import (
    MANAGER_ROLES,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    User,
    Workspace,
)
from openesp.lib.errors import InvalidInput


class NotAllowed(Exception):
    """The caller can see the object but their role does not allow this change."""


# The largest primary key the database holds (BIGINT): a larger id names nothing, and must not
# reach the driver, which would fail with an OverflowError (a 500) instead of a 404.
MAX_ID = 2**63 - 1

# Why ``require_editor`` refuses, unless the caller says more precisely.
VIEWER_REFUSAL = "viewers cannot change anything in this workspace"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, and the organization they are confined to (a workspace API key), if any.

    A confined actor reaches only the workspaces of that organization; anything beyond answers
    404 exactly as it would for a stranger.
    """

    user: User
    organization_id: int | None = None

    def reach(self, organization_id: int) -> int:
        """``organization_id`` when this actor may act in it; Http404 otherwise."""
        if self.organization_id is not None and self.organization_id != organization_id:
            raise Http404("organization not found")
        return organization_id

    def workspaces(self) -> QuerySet[Workspace]:
        """The workspaces this actor can use (see ``workspaces_for``), within its confinement."""
        workspaces = workspaces_for(self.user)
        if self.organization_id is not None:
            workspaces = workspaces.filter(organization_id=self.organization_id)
        return workspaces


def as_actor(actor_or_user: Actor | User) -> Actor:
    """A user as an unconfined actor; an actor as it is."""
    return actor_or_user if isinstance(actor_or_user, Actor) else Actor(actor_or_user)


def as_pk(object_id: object) -> int | None:
    """``object_id`` as a primary key the database can hold, or None."""
    if isinstance(object_id, bool):
        return None
    try:
        pk = int(object_id)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return pk if 1 <= pk <= MAX_ID else None


def access_workspace(actor: Actor | User, workspace_id: object) -> Workspace:
    """A workspace the actor can use; Http404 ("workspace not found") otherwise."""
    pk = as_pk(workspace_id)
    workspace = as_actor(actor).workspaces().filter(pk=pk).first() if pk is not None else None
    if workspace is None:
        raise Http404("workspace not found")
    return workspace


def access_by_id[M: Model](
    actor: Actor | User,
    queryset: QuerySet[M],
    object_id: object,
    what: str,
    *,
    workspace: Workspace | None = None,
    via: str = "workspace",
) -> M:
    """The object of ``queryset`` with this id in a workspace the actor can use (``via`` names
    the path from the model to its workspace); with ``workspace``, only in that one.

    ``Http404(f"{what} not found")`` alike for a missing id, an id beyond what the database
    holds, an object of a workspace the actor cannot use, and one of another workspace than
    ``workspace``: a guess learns nothing.
    """
    pk = as_pk(object_id)
    if pk is None:
        raise Http404(f"{what} not found")
    where: dict[str, Any] = {f"{via}__in": as_actor(actor).workspaces().values("id")}
    if workspace is not None:
        where[via] = workspace
    found = queryset.filter(pk=pk, **where).first()
    if found is None:
        raise Http404(f"{what} not found")
    return found


def access_all_by_id[M: Model](
    actor: Actor | User,
    queryset: QuerySet[M],
    ids: Iterable[object],
    *,
    workspace: Workspace,
    field: str,
    reason: str,
    via: str = "workspace",
) -> list[M]:
    """The objects of ``queryset`` with these ids, all in ``workspace`` (which the actor has
    reached), in no particular order. Ids in a request's body are input, not an address: one the
    workspace does not have is ``InvalidInput`` naming ``field`` (a 422), not a 404."""
    wanted = set()
    for object_id in ids:
        pk = as_pk(object_id)
        if pk is None:
            raise InvalidInput.one(field, reason)
        wanted.add(pk)
    if not wanted:
        return []
    reachable = as_actor(actor).workspaces().values("id")
    found = list(queryset.filter(pk__in=wanted, **{via: workspace, f"{via}__in": reachable}))
    if len(found) != len(wanted):
        raise InvalidInput.one(field, reason)
    return found


def can_edit(actor: Actor | User, workspace: Workspace) -> bool:
    """Whether the actor may change things in the workspace: every role but viewer."""
    membership = Membership.objects.filter(user=as_actor(actor).user, organization_id=workspace.organization_id).first()
    return membership is not None and membership.role != Role.VIEWER


def require_editor(actor: Actor | User, workspace: Workspace, refusal: str = VIEWER_REFUSAL) -> None:
    """NotAllowed(``refusal``) unless the actor may change things in the workspace (a workspace
    the caller has already reached): viewers look, they do not change."""
    if not can_edit(actor, workspace):
        raise NotAllowed(refusal)


def organizations_for(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name", "id")


def membership_for(user: User, organization_id: int) -> Membership:
    pk = as_pk(organization_id)  # a URL's <int:…> has no upper bound
    if pk is None:
        raise Http404("organization not found")
    try:
        return Membership.objects.select_related("organization").get(user=user, organization_id=pk)
    except Membership.DoesNotExist:
        raise Http404("organization not found") from None


def organization_for(user: User, organization_id: int) -> Organization:
    return membership_for(user, organization_id).organization


def managed_organization_for(user: User, organization_id: int) -> Membership:
    """The caller's membership, which must be owner or admin (NotAllowed otherwise)."""
    membership = membership_for(user, organization_id)
    if membership.role not in MANAGER_ROLES:
        raise NotAllowed("only an owner or an admin of the organization may do this")
    return membership


def workspaces_for(user: User, organization: Organization | None = None) -> QuerySet[Workspace]:
    """Owners and admins see all workspaces of their organizations; others those granted."""
    managed = Workspace.objects.filter(
        organization__memberships__user=user, organization__memberships__role__in=MANAGER_ROLES
    )
    granted = Workspace.objects.filter(members__user=user)
    qs = Workspace.objects.filter(id__in=managed.values("id").union(granted.values("id")))
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs.select_related("organization").order_by("name", "id")


def workspace_for(user: User, workspace_id: int) -> Workspace:
    pk = as_pk(workspace_id)
    if pk is None:
        raise Http404("workspace not found")
    try:
        return workspaces_for(user).get(id=pk)
    except Workspace.DoesNotExist:
        raise Http404("workspace not found") from None


# --- memberships, members and invitations ------------------------------------------------------


def memberships_of(actor: Actor | User) -> QuerySet[Membership]:
    """The actor's own memberships with their organizations, by organization name; a confined
    actor (a workspace key) has only the one of its organization."""
    who = as_actor(actor)
    memberships = Membership.objects.filter(user=who.user).select_related("organization")
    if who.organization_id is not None:
        memberships = memberships.filter(organization_id=who.organization_id)
    return memberships.order_by("organization__name", "organization_id")


def members_of(organization: Organization) -> QuerySet[Membership]:
    """The memberships of an organization the caller has reached (``membership_for``), with
    their users."""
    return Membership.objects.filter(organization=organization).select_related("user")


def access_member(actor: Actor | User, organization_id: object, membership_id: object) -> Membership:
    """A membership of an organization the actor belongs to (and may reach): Http404
    ("organization not found") when the actor is not a member there, Http404 ("member not
    found") when the organization has no such membership."""
    who = as_actor(actor)
    pk = as_pk(organization_id)
    if pk is None:
        raise Http404("organization not found")
    organization = membership_for(who.user, who.reach(pk)).organization
    member_pk = as_pk(membership_id)
    members = Membership.objects.select_related("user", "organization")
    found = members.filter(organization=organization, pk=member_pk).first() if member_pk is not None else None
    if found is None:
        raise Http404("member not found")
    return found


def workspace_named(
    organization: Organization,
    workspace_id: object,
    *,
    field: str = "workspace",
    reason: str = "no such workspace in this organization",
) -> Workspace:
    """A workspace of an organization the caller has reached, named in a request's body: input,
    so an id the organization does not have is ``InvalidInput`` naming ``field`` (a 422)."""
    pk = as_pk(workspace_id)
    workspace = Workspace.objects.filter(organization=organization, pk=pk).first() if pk is not None else None
    if workspace is None:
        raise InvalidInput.one(field, reason)
    return workspace


def invitations_of(organization: Organization) -> QuerySet[Invitation]:
    """The invitations of an organization the caller has reached, newest first."""
    return Invitation.objects.filter(organization=organization).order_by("-created_at", "-id")


def pending_invitations_to(user: User) -> QuerySet[Invitation]:
    """The open invitations addressed to the user's e-mail address (the invitee's view: they
    are no member yet of the organization that invites them)."""
    return Invitation.objects.filter(
        email__iexact=user.email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("organization", "workspace", "invited_by")


def access_invitation(actor: Actor | User, invitation_id: object, *, organization_id: object = None) -> Invitation:
    """An invitation of an organization the actor belongs to (and may reach); with
    ``organization_id``, only of that one. Http404 ("invitation not found") alike for a missing
    id and another organization's invitation."""
    who = as_actor(actor)
    pk = as_pk(invitation_id)
    invitation = (
        Invitation.objects.select_related("organization", "workspace")
        .filter(pk=pk, organization__memberships__user=who.user)
        .first()
        if pk is not None
        else None
    )
    if invitation is None or (organization_id is not None and as_pk(organization_id) != invitation.organization_id):
        raise Http404("invitation not found")
    try:
        who.reach(invitation.organization_id)
    except Http404:
        raise Http404("invitation not found") from None
    return invitation

"""Every lookup of a tenant object goes through the caller.

"Missing" and "not yours" give the same ``Http404``, so an id guess learns nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from openesp.accounts.models import (
    MANAGER_ROLES,
    Invitation,
    Membership,
    Organization,
    User,
    Workspace,
)


class NotAllowed(Exception):
    """The caller can see the object but their role does not allow this change."""


def organizations_for(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name", "id")


def membership_for(user: User, organization_id: int) -> Membership:
    try:
        return Membership.objects.select_related("organization").get(user=user, organization_id=organization_id)
    except (Membership.DoesNotExist, ValueError, TypeError):
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
    try:
        return workspaces_for(user).get(id=workspace_id)
    except (Workspace.DoesNotExist, ValueError, TypeError):
        raise Http404("workspace not found") from None


def invitation_for(user: User, invitation_id: int) -> Invitation:
    """An invitation of an organization the caller belongs to."""
    try:
        return Invitation.objects.select_related("organization", "workspace").get(
            id=invitation_id, organization__memberships__user=user
        )
    except (Invitation.DoesNotExist, ValueError, TypeError):
        raise Http404("invitation not found") from None

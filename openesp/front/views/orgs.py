"""Organizations: list and create; workspaces, members and invitations of one organization.

Every lookup goes through ``openesp.accounts.access``: an outsider gets 404 for any id, a
member who tries an owner's or admin's change gets a 403 page that says why.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openesp.accounts import actions
from openesp.accounts.access import (
    access_invitation,
    access_member,
    invitations_of,
    members_of,
    membership_for,
    memberships_of,
    workspace_for,
    workspaces_for,
)
from openesp.accounts.models import Membership, Role, Workspace
from openesp.front.forms import InviteForm, NameForm
from openesp.front.helpers import add_problems, int_or_none, member_view, the_user
from openesp.front.mailnote import report_queued
from openesp.lib.errors import InvalidInput, Throttled


def _org_context(membership: Membership, tab: str) -> dict[str, Any]:
    return {
        "organization": membership.organization,
        "membership": membership,
        "can_edit": membership.is_manager,
        "section": "organization",
        "tab": tab,
    }


def _problem_text(exc: InvalidInput) -> str:
    return "; ".join(str(p.reason) for p in exc.problems)


@member_view
def organization_list(request: HttpRequest) -> HttpResponse:
    user = the_user(request)
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            try:
                organization = actions.create_organization(user, form.cleaned_data["name"])
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                messages.success(request, _("The organization %(name)s has been created.") % {"name": organization})
                return redirect("org-workspaces", organization.pk)
    else:
        form = NameForm()
    return render(
        request,
        "front/org_list.html",
        {"form": form, "memberships": memberships_of(user), "section": "organization"},
        status=400 if form.errors else 200,
    )


@member_view
def organization_detail(request: HttpRequest, org_id: int) -> HttpResponse:
    membership_for(the_user(request), org_id)
    return redirect("org-workspaces", org_id)


@require_POST
@member_view
def organization_delete(request: HttpRequest, org_id: int) -> HttpResponse:
    user = the_user(request)
    organization = membership_for(user, org_id).organization
    actions.delete_organization(user, org_id)
    messages.success(request, _("The organization %(name)s has been deleted.") % {"name": organization.name})
    return redirect("org-list")


# --- workspaces ----------------------------------------------------------------------------------


def _workspace_in(request: HttpRequest, org_id: int, ws_id: int) -> tuple[Membership, Workspace]:
    user = the_user(request)
    membership = membership_for(user, org_id)
    workspace = workspace_for(user, ws_id)
    if workspace.organization_id != membership.organization_id:
        raise Http404("workspace not found")
    return membership, workspace


@member_view
def workspace_list(request: HttpRequest, org_id: int) -> HttpResponse:
    user = the_user(request)
    membership = membership_for(user, org_id)
    form = NameForm()
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            try:
                workspace = actions.create_workspace(user, org_id, form.cleaned_data["name"])
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                messages.success(request, _("The workspace %(name)s has been created.") % {"name": workspace})
                return redirect("org-workspaces", org_id)
    context = _org_context(membership, "workspaces")
    context.update({"form": form, "workspaces": workspaces_for(user, membership.organization)})
    return render(request, "front/org_workspaces.html", context, status=400 if form.errors else 200)


@member_view
def workspace_detail(request: HttpRequest, org_id: int, ws_id: int) -> HttpResponse:
    membership, workspace = _workspace_in(request, org_id, ws_id)
    form = NameForm(initial={"name": workspace.name})
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            try:
                actions.rename_workspace(the_user(request), workspace, form.cleaned_data["name"])
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                messages.success(request, _("The workspace has been renamed."))
                return redirect("org-workspace", org_id, ws_id)
    context = _org_context(membership, "workspaces")
    members = members_of(membership.organization)
    context.update(
        {
            "workspace": workspace,
            "form": form,
            "workspace_members": [m for m in members if m.is_manager or m.workspaces.filter(pk=ws_id).exists()],
        }
    )
    return render(request, "front/org_workspace.html", context, status=400 if form.errors else 200)


@require_POST
@member_view
def workspace_delete(request: HttpRequest, org_id: int, ws_id: int) -> HttpResponse:
    _membership, workspace = _workspace_in(request, org_id, ws_id)
    name = workspace.name
    actions.delete_workspace(the_user(request), workspace)
    messages.success(request, _("The workspace %(name)s has been deleted.") % {"name": name})
    return redirect("org-workspaces", org_id)


# --- members -------------------------------------------------------------------------------------


@member_view
def member_list(request: HttpRequest, org_id: int) -> HttpResponse:
    user = the_user(request)
    membership = membership_for(user, org_id)
    members = members_of(membership.organization).prefetch_related("workspaces").order_by("user__name", "user__email")
    context = _org_context(membership, "members")
    context.update(
        {
            "members": members,
            "roles": Role.choices,
            "all_workspaces": list(membership.organization.workspaces.order_by("name")),
            "member_error": request.session.pop("member_error", None),
        }
    )
    return render(request, "front/org_members.html", context)


@require_POST
@member_view
def member_change(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    target = access_member(the_user(request), org_id, member_id)
    role = request.POST.get("role") or None
    workspace_ids = None
    if request.POST.get("workspaces_sent"):
        workspace_ids = [i for i in (int_or_none(v) for v in request.POST.getlist("workspaces")) if i is not None]
    try:
        actions.change_membership(the_user(request), target, role=role, workspace_ids=workspace_ids)
    except InvalidInput as exc:
        messages.error(request, _("%(member)s: %(problem)s") % {"member": target.user, "problem": _problem_text(exc)})
    else:
        messages.success(request, _("%(member)s has been updated.") % {"member": target.user.display_name})
    return redirect("org-members", org_id)


@require_POST
@member_view
def member_remove(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    target = access_member(the_user(request), org_id, member_id)
    leaving = target.user_id == the_user(request).pk
    try:
        actions.remove_membership(the_user(request), target)
    except InvalidInput as exc:
        messages.error(request, _problem_text(exc))
        return redirect("org-members", org_id)
    if leaving:
        messages.success(request, _("You have left %(name)s.") % {"name": target.organization.name})
        return redirect("home")
    messages.success(request, _("%(member)s has been removed.") % {"member": target.user.display_name})
    return redirect("org-members", org_id)


# --- invitations ---------------------------------------------------------------------------------


@member_view
def invitation_list(request: HttpRequest, org_id: int) -> HttpResponse:
    user = the_user(request)
    membership = membership_for(user, org_id)
    organization = membership.organization
    workspace_choices = [(str(w.pk), w.name) for w in organization.workspaces.order_by("name")]
    form = InviteForm(workspaces=workspace_choices)
    throttled = False
    if request.method == "POST":
        form = InviteForm(request.POST, workspaces=workspace_choices)
        if form.is_valid():
            ws_id = int_or_none(form.cleaned_data["workspace"])
            workspace = organization.workspaces.filter(pk=ws_id).first() if ws_id else None
            already = actions.has_pending_invitation(organization, workspace, form.cleaned_data["email"])
            try:
                invitation, _token = actions.invite(
                    user,
                    org_id,
                    form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    workspace=workspace,
                )
            except InvalidInput as exc:
                add_problems(form, exc)
            except Throttled as exc:
                form.add_error("email", str(exc))
                throttled = True
            else:
                sent = _("An invitation has been sent to %(email)s.") % {"email": invitation.email}
                queued = _("The invitation to %(email)s") % {"email": invitation.email}
                report_queued(request, user, sent=sent, queued=queued, sender=user, organization=organization)
                if already:
                    text = _(
                        "%(email)s already had a pending invitation here: it is replaced, and its link no longer works."
                    )
                    messages.warning(request, text % {"email": invitation.email})
                return redirect("org-invitations", org_id)
    invitations = invitations_of(organization).select_related("workspace", "invited_by")
    context = _org_context(membership, "invitations")
    context.update({"form": form, "invitations": invitations})
    status = 429 if throttled else 400 if form.errors else 200
    return render(request, "front/org_invitations.html", context, status=status)


@require_POST
@member_view
def invitation_revoke(request: HttpRequest, org_id: int, invitation_id: int) -> HttpResponse:
    user = the_user(request)
    membership_for(user, org_id)
    invitation = access_invitation(user, invitation_id, organization_id=org_id)
    try:
        actions.revoke_invitation(user, invitation)
    except InvalidInput as exc:
        messages.error(request, _problem_text(exc))
    else:
        messages.success(request, _("The invitation to %(email)s has been revoked.") % {"email": invitation.email})
    return redirect("org-invitations", org_id)

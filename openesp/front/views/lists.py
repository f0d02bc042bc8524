"""The lists of a workspace: making one, a list's subscribers, its settings, adding a subscriber
by address, deleting it.

Lookups and the viewer refusal as on every audience page (``audience_common``). Views parse and
authorise; ``audience.actions`` changes state.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import actions, queries
from openesp.audience.access import access_list
from openesp.audience.models import ContactList, SubscriptionStatus
from openesp.front.forms import ListForm, SubscriberForm
from openesp.front.helpers import add_problems, member_view, the_actor, the_user
from openesp.front.views.audience_common import (
    audience_workspace,
    page_context,
    refuse_viewers,
    translated,
    ui_consent,
)
from openesp.lib.errors import InvalidInput

PAGE_SIZE = 50


@require_http_methods(["GET", "POST"])
@member_view
def list_index(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    form = ListForm()
    if request.method == "POST":
        refuse_viewers(request, workspace)
        form = ListForm(request.POST)
        if form.is_valid():
            try:
                contact_list = actions.create_list(
                    workspace, form.cleaned_data["name"], double_opt_in=form.cleaned_data["double_opt_in"]
                )
            except InvalidInput as exc:
                add_problems(form, translated(exc))
            else:
                messages.success(request, _("The list %(name)s has been made.") % {"name": contact_list.name})
                return redirect("ws-list", workspace.pk, contact_list.pk)
    context = page_context(workspace, can_edit, form=form, lists=queries.lists_with_counts(workspace))
    return render(request, "front/audience/lists.html", context, status=400 if form.errors else 200)


def _list_page(
    request: HttpRequest, workspace: Workspace, can_edit: bool, contact_list: ContactList, **forms: Any
) -> dict[str, Any]:
    status = request.GET.get("status", "")
    if status not in SubscriptionStatus.values:
        status = ""
    page = Paginator(queries.list_members(contact_list, status), PAGE_SIZE).get_page(request.GET.get("page"))
    counted = queries.lists_with_counts(workspace).get(pk=contact_list.pk)
    return page_context(
        workspace,
        can_edit,
        contact_list=counted,
        page=page,
        status=status,
        statuses=SubscriptionStatus.choices,
        settings_form=forms.get("settings_form")
        or ListForm(initial={"name": contact_list.name, "double_opt_in": contact_list.double_opt_in}),
        subscriber_form=forms.get("subscriber_form") or SubscriberForm(),
    )


@require_http_methods(["GET", "POST"])
@member_view
def list_detail(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """The list's subscribers; its POST renames the list or switches double opt-in."""
    workspace, can_edit = audience_workspace(request, ws_id)
    contact_list = access_list(the_actor(request), list_id, workspace=workspace)
    if request.method == "POST":
        refuse_viewers(request, workspace)
        form = ListForm(request.POST)
        if form.is_valid():
            try:
                actions.update_list(
                    contact_list, name=form.cleaned_data["name"], double_opt_in=form.cleaned_data["double_opt_in"]
                )
            except InvalidInput as exc:
                add_problems(form, translated(exc))
            else:
                messages.success(request, _("The list has been saved."))
                return redirect("ws-list", workspace.pk, contact_list.pk)
        contact_list.refresh_from_db()
        context = _list_page(request, workspace, can_edit, contact_list, settings_form=form)
        return render(request, "front/audience/list.html", context, status=400)
    return render(request, "front/audience/list.html", _list_page(request, workspace, can_edit, contact_list))


@require_POST
@member_view
def list_subscribe(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """Add a subscriber by address: the address's contact, made if the workspace has none."""
    workspace, can_edit = audience_workspace(request, ws_id)
    contact_list = access_list(the_actor(request), list_id, workspace=workspace)
    refuse_viewers(request, workspace)
    form = SubscriberForm(request.POST)
    if form.is_valid():
        try:
            subscription = actions.subscribe_address(
                contact_list, form.cleaned_data["email"], ui_consent(the_user(request))
            )
        except InvalidInput as exc:
            add_problems(form, translated(exc))
        else:
            email = subscription.contact.email
            if subscription.status == SubscriptionStatus.PENDING:
                messages.success(request, _("%(email)s is pending until confirmed.") % {"email": email})
            else:
                messages.success(request, _("%(email)s is subscribed.") % {"email": email})
            return redirect("ws-list", workspace.pk, contact_list.pk)
    context = _list_page(request, workspace, can_edit, contact_list, subscriber_form=form)
    return render(request, "front/audience/list.html", context, status=400)


@require_http_methods(["GET", "POST"])
@member_view
def list_delete(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """A confirmation page; its POST deletes the list and its subscriptions (the contacts stay)."""
    workspace, can_edit = audience_workspace(request, ws_id)
    contact_list = access_list(the_actor(request), list_id, workspace=workspace)
    refuse_viewers(request, workspace)
    if request.method == "POST":
        name = contact_list.name
        actions.delete_list(contact_list)
        messages.success(request, _("The list %(name)s has been deleted.") % {"name": name})
        return redirect("ws-lists", workspace.pk)
    counted = queries.lists_with_counts(workspace).get(pk=contact_list.pk)
    return render(request, "front/audience/list_delete.html", page_context(workspace, can_edit, contact_list=counted))


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/lists/", list_index, name="ws-lists"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/", list_detail, name="ws-list"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/subscribers/", list_subscribe, name="ws-list-subscribe"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/delete/", list_delete, name="ws-list-delete"),
]

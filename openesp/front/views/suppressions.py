"""The suppressions of a workspace: the workspace's and the operator's (marked, not removable
here), adding one, lifting one, and the audit trail of an address.

Lookups and the viewer refusal as on every audience page (``audience_common``). Every change goes
through ``audience.suppressions``, which writes its audit row.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from openesp.accounts.models import Workspace
from openesp.audience import actions, queries, suppressions
from openesp.audience.models import ConsentSource
from openesp.audience.suppressions import GlobalSuppression
from openesp.front.forms import SuppressionForm
from openesp.front.helpers import add_problems, member_view, the_user
from openesp.front.views.audience_common import (
    audience_workspace,
    page_context,
    problems_text,
    refuse_viewers,
    translated,
)
from openesp.lib.errors import InvalidInput

PAGE_SIZE = 50


@require_http_methods(["GET", "POST"])
@member_view
def suppression_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    """The workspace's suppressions and the operator's (marked, not removable here); add one.

    ``?email=`` narrows the list to addresses containing it; ``?history=`` shows the audit trail of
    one address.
    """
    workspace, can_edit = audience_workspace(request, ws_id)
    form = SuppressionForm()
    if request.method == "POST":
        refuse_viewers(request, workspace)
        form = SuppressionForm(request.POST)
        if form.is_valid():
            try:
                _email, key = actions.normalise_email(form.cleaned_data["email"])
                existing = queries.workspace_suppression(workspace, key)
                suppression = suppressions.add_suppression(
                    workspace,
                    form.cleaned_data["email"],
                    form.cleaned_data["reason"],
                    source=ConsentSource.ADMIN,
                    detail="web UI",
                    actor=the_user(request),
                )
            except InvalidInput as exc:
                add_problems(form, translated(exc))
            else:
                if existing is not None:
                    messages.info(
                        request,
                        _("%(email)s was suppressed already (%(reason)s).")
                        % {"email": key, "reason": existing.get_reason_display()},
                    )
                else:
                    messages.success(request, _("%(email)s is suppressed.") % {"email": suppression.email})
                return redirect("ws-suppressions", workspace.pk)
    search = request.GET.get("email", "")
    page = Paginator(queries.suppressions_for(workspace, search), PAGE_SIZE).get_page(request.GET.get("page"))
    history_email = request.GET.get("history", "").strip().lower()
    context = page_context(
        workspace,
        can_edit,
        form=form,
        page=page,
        search=search,
        history_email=history_email,
        history=queries.suppression_history(workspace, history_email) if history_email else None,
    )
    return render(request, "front/audience/suppressions.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@member_view
def suppression_remove(request: HttpRequest, ws_id: int) -> HttpResponse:
    """A confirmation page for ``?email=``; its POST lifts the workspace's suppression of it."""
    workspace, can_edit = audience_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    email = (request.POST.get("email") if request.method == "POST" else request.GET.get("email")) or ""
    suppression = queries.workspace_suppression(workspace, email)
    if request.method == "POST":
        _remove(request, workspace, email)
        return redirect("ws-suppressions", workspace.pk)
    if suppression is None:
        raise Http404("the workspace does not suppress this address")
    return render(
        request, "front/audience/suppression_remove.html", page_context(workspace, can_edit, suppression=suppression)
    )


def _remove(request: HttpRequest, workspace: Workspace, email: str) -> None:
    user = the_user(request)
    try:
        removed = suppressions.remove_suppression(
            workspace, email, source=ConsentSource.ADMIN, detail="web UI", actor=user
        )
    except InvalidInput as exc:
        messages.error(request, problems_text(exc))
    except GlobalSuppression:
        text = _("The operator suppresses %(email)s for all workspaces; only they can lift it.")
        messages.error(request, text % {"email": email})
    else:
        if removed:
            messages.success(request, _("%(email)s is no longer suppressed.") % {"email": email.strip().lower()})
        else:
            messages.info(request, _("This workspace does not suppress %(email)s.") % {"email": email})


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/suppressions/", suppression_list, name="ws-suppressions"),
    path("workspaces/<int:ws_id>/suppressions/remove/", suppression_remove, name="ws-suppression-remove"),
]

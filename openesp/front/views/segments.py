"""Segments of a workspace: saved filters with a live count.

The workspace and the segment come through the access layer (``audience_common``), so an
outsider, a member without the workspace, a segment of another workspace and a missing id all get
the same 404. Viewers see segments and try queries; changing them takes a member or above. The
views parse and authorise; ``audience.segments`` does the rest.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import queries
from openesp.audience.access import access_segment
from openesp.audience.models import Segment
from openesp.audience.segment_syntax import MAX_QUERY_LENGTH, QueryError
from openesp.audience.segments import (
    create_segment,
    delete_segment,
    matching_contacts,
    segment_contacts,
    update_segment,
)
from openesp.front.helpers import add_problems, member_view, the_actor, the_user
from openesp.front.views.audience_common import audience_workspace, page_context, refuse_viewers
from openesp.lib.errors import InvalidInput

PAGE_SIZE = 50
PREVIEW_SIZE = 5
# What a row of a contacts table shows.
CONTACT_FIELDS = ("id", "email", "name", "status", "created_at")


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    query = forms.CharField(
        label=_("Query"),
        max_length=MAX_QUERY_LENGTH,
        strip=False,  # error columns count from the text as typed
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off", "data-segment-query": "", "class": "mono"}
        ),
        help_text=_('For example: attributes.country = "SE" and not opened in 90 days'),
    )


def _context(workspace: Workspace, can_edit: bool, **more: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, "segments", **more)


def _preview(workspace: Workspace, query: str) -> dict[str, Any]:
    """The count and the first contacts of ``query``, or the problem with it."""
    try:
        contacts = matching_contacts(workspace, query)
    except QueryError as exc:
        return {"ok": False, "error": exc.reason, "column": exc.column}
    first = contacts.order_by("id").only(*CONTACT_FIELDS)[:PREVIEW_SIZE]
    return {"ok": True, "count": contacts.count(), "contacts": [c.email for c in first]}


@require_GET
@member_view
def segment_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    rows = [(s, segment_contacts(s).count()) for s in queries.segments_of(workspace)]
    return render(request, "front/segments/list.html", _context(workspace, can_edit, rows=rows))


def _form_page(request: HttpRequest, workspace: Workspace, segment: Segment | None) -> HttpResponse:
    """The new and edit pages: Save saves; Preview (the page without script) shows the count."""
    user = the_user(request)
    refuse_viewers(request, workspace)
    preview = None
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            name, query = form.cleaned_data["name"], form.cleaned_data["query"]
            if "preview" in request.POST:
                preview = _preview(workspace, query)
                if not preview["ok"]:
                    form.add_error("query", preview["error"])
            else:
                try:
                    if segment is None:
                        segment = create_segment(workspace, name, query, actor=user)
                        messages.success(request, _t("The segment is saved."))
                    else:
                        update_segment(segment, name=name, query=query)
                        messages.success(request, _t("The segment is changed."))
                except InvalidInput as exc:
                    add_problems(form, exc)
                else:
                    return redirect("ws-segment", workspace.pk, segment.pk)
    elif segment is not None:
        form = SegmentForm(initial={"name": segment.name, "query": segment.query})
    else:
        form = SegmentForm(initial={"query": request.GET.get("query", "")})
    context = _context(workspace, True, form=form, segment=segment, preview=preview)
    return render(request, "front/segments/form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@member_view
def segment_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    return _form_page(request, workspace, None)


@require_http_methods(["GET", "POST"])
@member_view
def segment_edit(request: HttpRequest, ws_id: int, segment_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    return _form_page(request, workspace, access_segment(the_actor(request), segment_id, workspace=workspace))


@require_GET
@member_view
def segment_detail(request: HttpRequest, ws_id: int, segment_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    segment = access_segment(the_actor(request), segment_id, workspace=workspace)
    contacts: Any = segment_contacts(segment).only(*CONTACT_FIELDS).order_by("id")
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "front/segments/detail.html", _context(workspace, can_edit, segment=segment, page=page))


@require_POST
@member_view
def segment_delete(request: HttpRequest, ws_id: int, segment_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    segment = access_segment(the_actor(request), segment_id, workspace=workspace)
    refuse_viewers(request, workspace)
    delete_segment(segment)
    messages.success(request, _t("The segment is deleted; its contacts are not."))
    return redirect("ws-segments", workspace.pk)


@require_GET
@member_view
def segment_preview(request: HttpRequest, ws_id: int) -> HttpResponse:
    """The live count for the form's script: JSON, read-only."""
    workspace, _can_edit = audience_workspace(request, ws_id)
    query = request.GET.get("query", "")
    if len(query) > MAX_QUERY_LENGTH:
        query = query[: MAX_QUERY_LENGTH + 1]  # parse() reports the length with its column
    return JsonResponse(_preview(workspace, query))


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/segments/", segment_list, name="ws-segments"),
    path("workspaces/<int:ws_id>/segments/new/", segment_new, name="ws-segment-new"),
    path("workspaces/<int:ws_id>/segments/preview/", segment_preview, name="ws-segment-preview"),
    path("workspaces/<int:ws_id>/segments/<int:segment_id>/", segment_detail, name="ws-segment"),
    path("workspaces/<int:ws_id>/segments/<int:segment_id>/edit/", segment_edit, name="ws-segment-edit"),
    path("workspaces/<int:ws_id>/segments/<int:segment_id>/delete/", segment_delete, name="ws-segment-delete"),
]

"""The message log of a workspace and the page of one message with its timeline of events.

Read-only. The workspace comes through ``workspace_for`` and the message through that
workspace (``messaging.access``), so an outsider, a member without the workspace, a foreign
message and a malformed id all get the same 404.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from openesp.accounts.access import workspace_for
from openesp.accounts.models import Workspace
from openesp.campaigns.queries import campaigns_of
from openesp.campaigns.render import source_of
from openesp.delivery.build import CAMPAIGN_CATEGORIES
from openesp.front.display import describe_route
from openesp.front.forms import MessageFilterForm
from openesp.front.helpers import member_view, the_user
from openesp.messaging.access import access_message, workspace_messages
from openesp.messaging.models import Message, Status

PAGE_SIZE = 50
# What a row of the log shows; the bodies and headers stay in the database.
LIST_FIELDS = ("public_id", "created_at", "to_email", "to_name", "subject", "category", "status", "provider_kind")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered(messages: QuerySet[Message], filters: dict[str, Any], *, by_status: bool = True) -> QuerySet[Message]:
    if by_status and filters.get("status"):
        messages = messages.filter(status=filters["status"])
    if filters.get("recipient"):
        messages = messages.filter(to_email__icontains=filters["recipient"])
    if filters.get("category"):
        messages = messages.filter(category=filters["category"])
    if filters.get("campaign"):  # one of the workspace's campaigns: the form's choices
        messages = messages.filter(campaign_link__campaign_id=filters["campaign"])
    # Ranges on created_at rather than __date lookups, so that the (workspace, -created_at)
    # index serves them; "to" includes the whole of its day.
    if filters.get("date_from"):
        messages = messages.filter(created_at__gte=_start_of(filters["date_from"]))
    if filters.get("date_to"):
        messages = messages.filter(created_at__lt=_start_of(filters["date_to"] + timedelta(days=1)))
    return messages


def _status_chips(messages: QuerySet[Message], current: str) -> list[dict[str, Any]]:
    """How many messages have each status under the other filters: each chip narrows to its status."""
    counts = dict(messages.order_by().values_list("status").annotate(n=Count("id")))
    chips: list[dict[str, Any]] = [{"value": "", "label": None, "count": sum(counts.values()), "active": not current}]
    for value, label in Status.choices:
        if counts.get(value) or value == current:
            chips.append({"value": value, "label": label, "count": counts.get(value, 0), "active": value == current})
    return chips


def _workspace_context(workspace: Workspace) -> dict[str, Any]:
    return {"workspace": workspace, "organization": workspace.organization, "section": "messages"}


@require_GET
@member_view
def message_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace = workspace_for(the_user(request), ws_id)
    campaigns = list(campaigns_of(workspace).values_list("id", "name"))
    form = MessageFilterForm(request.GET, campaigns=campaigns)
    # An invalid value (a status that does not exist, a malformed date) is shown next to its
    # field and ignored; the valid filters still apply.
    form.is_valid()
    filters = form.cleaned_data
    in_workspace = workspace_messages(workspace)
    messages = _filtered(in_workspace, filters).only(*LIST_FIELDS).order_by("-created_at", "-id")
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    providers = {kind: describe_route(kind) for kind in {m.provider_kind for m in page}}
    context = _workspace_context(workspace)
    context.update(
        {
            "form": form,
            "page": page,
            "rows": [(m, providers[m.provider_kind]) for m in page],
            "chips": _status_chips(_filtered(in_workspace, filters, by_status=False), filters.get("status", "")),
            "filtered": any(filters.get(name) for name in form.fields),
            "rendered_categories": CAMPAIGN_CATEGORIES,
        }
    )
    return render(request, "front/messages/list.html", context)


@require_GET
@member_view
def message_detail(request: HttpRequest, ws_id: int, message_id: str) -> HttpResponse:
    user = the_user(request)
    workspace = workspace_for(user, ws_id)
    message = access_message(user, message_id, workspace=workspace)
    now = timezone.now()
    rendered_from = source_of(message)  # a campaign message: rendered for its recipient when sent
    title = message.subject or (_("(rendered when sent)") if rendered_from else _("(no subject)"))
    context = _workspace_context(workspace)
    context.update(
        {
            "message": message,
            "title": title,
            "provider": describe_route(message.provider_kind),
            "events": message.events.order_by("created_at", "id"),
            "attachments": message.attachments.order_by("id").only("filename", "content_type", "size"),
            "now": now,
            "scheduled": message.status == Status.QUEUED and message.not_before > now,
            "metadata": sorted(message.metadata.items()) if isinstance(message.metadata, dict) else [],
            "tags": message.tags if isinstance(message.tags, list) else [],
            "rendered_from": rendered_from,
        }
    )
    return render(request, "front/messages/detail.html", context)

"""Campaigns of a workspace: the list, a new campaign (with the provider its mail will take, and
why), the campaign's page (status, numbers, the chart of sends and responses, schedule, pause,
resume, cancel, reminders) and its recipients.

The actions live in ``openesp.campaigns``; an illegal transition (``Conflict``, a 409 in the API)
comes back here as a message on the campaign's page, not as an error page. Viewers see every
page and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience.access import access_list, access_segment
from openesp.audience.actions import time_zones
from openesp.campaigns import queries
from openesp.campaigns.access import access_template_version
from openesp.campaigns.campaigns import (
    cancel_campaign,
    create_campaign,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Campaign, CampaignStatus, TemplateVersion
from openesp.campaigns.reminders import create_reminder, due_at
from openesp.campaigns.stats import campaign_stats, campaign_timeline
from openesp.esp.effective import effective_provider
from openesp.front.campaign_forms import CampaignForm, ReminderForm, ScheduleForm
from openesp.front.display import describe_effective
from openesp.front.helpers import add_problems, member_view, the_actor, the_user
from openesp.front.views.audience_common import translated
from openesp.front.views.campaign_common import (
    campaign_in,
    campaign_workspace,
    conflict_text,
    page_context,
    refuse_viewers,
)
from openesp.front.views.stats import campaign_dashboard
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Status

PAGE_SIZE = 50


def _context(workspace: Workspace, can_edit: bool, **extra: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, "campaigns", **extra)


def _version(request: HttpRequest, template_id: Any, number: Any) -> TemplateVersion:
    return access_template_version(the_user(request), template_id, number)


@require_GET
@member_view
def campaign_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    page = Paginator(queries.campaigns_of(workspace), PAGE_SIZE).get_page(request.GET.get("page"))
    context = _context(workspace, can_edit, campaigns=page.object_list, page=page)
    return render(request, "front/campaigns/campaigns.html", context)


@require_http_methods(["GET", "POST"])
@member_view
def campaign_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    user = the_user(request)
    if request.method == "POST":
        form = CampaignForm(workspace, request.POST)
        if form.is_valid():
            campaign = _create(request, workspace, form)
            if campaign is not None:
                messages.success(request, _("The campaign is saved as a draft. Schedule it when it is ready."))
                return redirect("ws-campaign", workspace.pk, campaign.pk)
    else:
        form = CampaignForm(workspace, initial={"from_email": user.email if user.email_verified else ""})
    effective = effective_provider(user, workspace.organization)
    context = _context(
        workspace, can_edit, form=form, effective=effective, effective_view=describe_effective(effective),
        has_templates=bool(form.fields["template"].choices[1:]),  # type: ignore[attr-defined]
    )  # fmt: skip
    return render(request, "front/campaigns/campaign_new.html", context, status=400 if form.errors else 200)


# The action's field names where the form's differ.
_FIELDS = {"from": "from_email", "template_id": "template", "receipt_template_id": "receipt_template"}


def _create(request: HttpRequest, workspace: Workspace, form: CampaignForm) -> Campaign | None:
    data, actor = form.cleaned_data, the_actor(request)
    try:
        version = _version(request, data["template"], data["template_version"])
    except Http404:
        form.add_error("template_version", _("The template has no such version."))
        return None
    receipt = _version(request, data["receipt_template"], None) if data.get("receipt_template") else None
    lists = [access_list(actor, pk, workspace=workspace) for pk in data["lists"]]
    segment = access_segment(actor, data["segment"], workspace=workspace) if data.get("segment") else None
    try:
        return create_campaign(
            workspace, the_user(request), name=data["name"], template_version=version, from_email=data["from_email"],
            from_name=data["from_name"], reply_to=data["reply_to"], lists=lists, segment=segment,
            response_url=data["response_url"], receipt_version=receipt,
        )  # fmt: skip
    except InvalidInput as exc:
        add_problems(form, translated(exc), _FIELDS)
        return None


def _detail(
    request: HttpRequest,
    workspace: Workspace,
    can_edit: bool,
    campaign: Campaign,
    *,
    schedule_form: ScheduleForm | None = None,
    reminder_form: ReminderForm | None = None,
    status: int = 200,
) -> HttpResponse:
    effective = effective_provider(campaign.created_by, workspace.organization)
    reminders = [(r, due_at(r)) for r in queries.reminders_of(campaign)]
    context = _context(
        workspace,
        can_edit,
        campaign=campaign,
        stats=campaign_stats(campaign),
        timeline=campaign_timeline(campaign),
        delivery=campaign_dashboard(campaign),
        effective=effective,
        effective_view=describe_effective(effective),
        reminders=reminders,
        lists=list(campaign.lists.order_by("name")),
        schedule_form=schedule_form or ScheduleForm(),
        reminder_form=reminder_form or ReminderForm(workspace),
        time_zones=sorted(time_zones()),
        can_schedule=campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED),
        can_pause=campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING),
        can_resume=campaign.status == CampaignStatus.PAUSED,
        can_cancel=campaign.status not in (CampaignStatus.SENT, CampaignStatus.CANCELLED),
        can_remind=campaign.status != CampaignStatus.DRAFT and campaign.status != CampaignStatus.CANCELLED,
        # Due but not started: a worker starts it within moments (none may be running).
        due=campaign.status == CampaignStatus.SCHEDULED
        and campaign.send_at is not None
        and campaign.send_at <= timezone.now(),
    )
    return render(request, "front/campaigns/campaign.html", context, status=status)


@require_GET
@member_view
def campaign_detail(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    return _detail(request, workspace, can_edit, campaign_in(request, workspace, campaign_id))


@require_POST
@member_view
def campaign_schedule(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    campaign = campaign_in(request, workspace, campaign_id)
    refuse_viewers(request, workspace)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        later = form.cleaned_data["when"] == "later"
        try:
            schedule_campaign(
                campaign, send_at=form.local_time() if later else None,
                time_zone=form.cleaned_data["time_zone"] if later else "",
            )  # fmt: skip
        except Conflict as exc:
            messages.error(request, conflict_text(exc))
            return redirect("ws-campaign", workspace.pk, campaign.pk)
        except InvalidInput as exc:
            add_problems(form, translated(exc), {"send_at": "date", "lists": "__all__"})
        else:
            messages.success(request, _("The campaign is scheduled."))
            return redirect("ws-campaign", workspace.pk, campaign.pk)
    return _detail(request, workspace, can_edit, campaign, schedule_form=form, status=400)


def _transition(
    request: HttpRequest, ws_id: int, campaign_id: int, action: Callable[[Campaign], Campaign], done: str
) -> HttpResponse:
    workspace, _can_edit = campaign_workspace(request, ws_id)
    campaign = campaign_in(request, workspace, campaign_id)
    refuse_viewers(request, workspace)
    try:
        action(campaign)
    except Conflict as exc:
        messages.error(request, conflict_text(exc))
    else:
        messages.success(request, done)
    return redirect("ws-campaign", workspace.pk, campaign.pk)


@require_POST
@member_view
def campaign_pause(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    done = _("The campaign is paused: nothing more of it is sent until you resume it.")
    return _transition(request, ws_id, campaign_id, lambda c: pause_campaign(c), done)


@require_POST
@member_view
def campaign_resume(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    return _transition(request, ws_id, campaign_id, lambda c: resume_campaign(c), _("The campaign is resumed."))


@require_POST
@member_view
def campaign_cancel(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    done = _("The campaign is cancelled: nothing of it stays queued.")
    return _transition(request, ws_id, campaign_id, lambda c: cancel_campaign(c), done)


@require_POST
@member_view
def campaign_remind(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    """A reminder to the recipients who have not responded: now, at a time or N days after."""
    workspace, can_edit = campaign_workspace(request, ws_id)
    campaign = campaign_in(request, workspace, campaign_id)
    refuse_viewers(request, workspace)
    form = ReminderForm(workspace, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        version = _version(request, data["template"], None)
        when = data["when"]
        try:
            reminder = create_reminder(
                campaign, the_user(request), version=version,
                send_at=form.local_time() if when == "later" else None,
                time_zone=data["time_zone"] if when == "later" else "",
                after_days=data["after_days"] if when == "after" else None,
            )  # fmt: skip
        except Conflict as exc:
            messages.error(request, conflict_text(exc))
            return redirect("ws-campaign", workspace.pk, campaign.pk)
        except InvalidInput as exc:
            add_problems(form, translated(exc), {"send_at": "date", "template_id": "template"})
        else:
            if reminder.manual:
                text = _("The reminder is on its way to %(n)s recipients who have not responded.") % {
                    "n": reminder.sent
                }
            else:
                text = _("The reminder is scheduled.")
            messages.success(request, text)
            return redirect("ws-campaign", workspace.pk, campaign.pk)
    return _detail(request, workspace, can_edit, campaign, reminder_form=form, status=400)


RESPONDED_FILTERS = {"true": True, "false": False}
FILTER_LABELS = [
    ("", gettext_lazy("All")),
    ("true", gettext_lazy("Responded")),
    ("false", gettext_lazy("Not responded")),
]


@require_GET
@member_view
def campaign_recipients(request: HttpRequest, ws_id: int, campaign_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    campaign = campaign_in(request, workspace, campaign_id)
    current = request.GET.get("responded", "")
    current = current if current in RESPONDED_FILTERS else ""
    rows = queries.recipients_of(campaign, RESPONDED_FILTERS.get(current))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = dict(Status.choices)
    for recipient in page:  # invitation_status is annotated by recipients_of
        status = getattr(recipient, "invitation_status", None) or ""
        recipient.invitation_label = labels.get(status, status)  # type: ignore[attr-defined]
    filters = [{"value": v, "label": label, "active": v == current} for v, label in FILTER_LABELS]
    context = _context(workspace, can_edit, campaign=campaign, page=page, filters=filters, current=current)
    return render(request, "front/campaigns/recipients.html", context)


_CAMPAIGN = "workspaces/<int:ws_id>/campaigns/<int:campaign_id>/"
urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/campaigns/", campaign_list, name="ws-campaigns"),
    path("workspaces/<int:ws_id>/campaigns/new/", campaign_new, name="ws-campaign-new"),
    path(_CAMPAIGN, campaign_detail, name="ws-campaign"),
    path(_CAMPAIGN + "schedule/", campaign_schedule, name="ws-campaign-schedule"),
    path(_CAMPAIGN + "pause/", campaign_pause, name="ws-campaign-pause"),
    path(_CAMPAIGN + "resume/", campaign_resume, name="ws-campaign-resume"),
    path(_CAMPAIGN + "cancel/", campaign_cancel, name="ws-campaign-cancel"),
    path(_CAMPAIGN + "reminders/", campaign_remind, name="ws-campaign-remind"),
    path(_CAMPAIGN + "recipients/", campaign_recipients, name="ws-campaign-recipients"),
]

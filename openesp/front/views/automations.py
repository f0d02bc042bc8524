"""Automations of a workspace: list, create, show (numbers and recent entries), change, pause or
resume, delete.

The workspace comes through ``accounts.access`` and the automation through
``campaigns.access.access_automation`` with that workspace, so an outsider, a member without the
workspace, an automation of another workspace and a missing id all get the same 404. Viewers
look; changing takes a member or above. The views parse and authorise;
``campaigns.automations`` does the rest.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import queries
from openesp.audience.models import ContactList
from openesp.campaigns import automations as actions
from openesp.campaigns.access import access_automation, templates_for
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Automation, AutomationStatus, Template, TriggerKind
from openesp.front.helpers import add_problems, member_view, the_actor, the_user
from openesp.front.views.audience_common import audience_workspace, page_context, refuse_viewers, translated
from openesp.lib.errors import InvalidInput

SECTION = "automations"


class AutomationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    trigger = forms.ChoiceField(label=_("Trigger"), choices=TriggerKind.choices)
    trigger_list: forms.ModelChoiceField[ContactList] = forms.ModelChoiceField(
        label=_("List"), queryset=None, required=False, empty_label=_("None"),
        help_text=_("Subscribed to a list: the list. A date attribute: only this list's subscribers (optional)."),
    )  # fmt: skip
    date_attribute = forms.CharField(
        label=_("Date attribute"), max_length=100, required=False,
        help_text=_("A contact attribute holding a date, e.g. renewal_date (2026-12-24)."),
    )  # fmt: skip
    offset_days = forms.IntegerField(
        label=_("Days from the date"), initial=0, min_value=-actions.MAX_OFFSET_DAYS,
        max_value=actions.MAX_OFFSET_DAYS,
        help_text=_("-14 sends fourteen days before the date, in the contact's time zone."),
    )  # fmt: skip
    delay_minutes = forms.IntegerField(
        label=_("Delay (minutes)"), initial=0, min_value=0, max_value=actions.MAX_DELAY_MINUTES,
        help_text=_("How long after the trigger the invitation is sent."),
    )  # fmt: skip
    template: forms.ModelChoiceField[Template] = forms.ModelChoiceField(
        label=_("Template"), queryset=None, empty_label=None
    )
    from_email = forms.CharField(label=_("From address"), max_length=320)
    from_name = forms.CharField(label=_("From name"), max_length=200, required=False)
    reply_to = forms.CharField(label=_("Reply-To"), max_length=320, required=False)
    response_url = forms.CharField(
        label=_("Response URL"), max_length=2000, required=False,
        help_text=_("Your own survey or form; the response button leads there with the token appended."),
    )  # fmt: skip
    receipt_template: forms.ModelChoiceField[Template] = forms.ModelChoiceField(
        label=_("Receipt template"), queryset=None, required=False, empty_label=_("None")
    )
    reminder_template: forms.ModelChoiceField[Template] = forms.ModelChoiceField(
        label=_("Reminder template"), queryset=None, required=False, empty_label=_("None")
    )
    reminder_after_days = forms.IntegerField(
        label=_("Remind after (days)"), min_value=1, max_value=actions.MAX_REMINDER_DAYS, required=False
    )

    def __init__(self, workspace: Workspace, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        templates = templates_for(the_user(request)).filter(workspace=workspace).order_by("name")
        for name in ("template", "receipt_template", "reminder_template"):
            self.fields[name].queryset = templates  # type: ignore[attr-defined]
        self.fields["trigger_list"].queryset = queries.lists_of(workspace)  # type: ignore[attr-defined]


# Form field → the action's field, for errors.
_FIELDS = {
    "list_id": "trigger_list",
    "template_id": "template",
    "receipt_template_id": "receipt_template",
    "reminder_template_id": "reminder_template",
    "from": "from_email",
}


def _context(workspace: Workspace, can_edit: bool, **more: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, SECTION, **more)


@require_GET
@member_view
def automation_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    rows = [(a, actions.automation_stats(a)) for a in actions.automations_of(workspace)]
    return render(request, "front/automations/list.html", _context(workspace, can_edit, rows=rows))


def _initial(automation: Automation) -> dict[str, Any]:
    container = automation.campaign
    return {
        "name": automation.name, "trigger": automation.trigger, "trigger_list": automation.trigger_list,
        "date_attribute": automation.date_attribute, "offset_days": automation.offset_days,
        "delay_minutes": automation.delay_minutes, "template": container.template_version.template,
        "from_email": container.from_email, "from_name": container.from_name, "reply_to": container.reply_to,
        "response_url": container.response_url,
        "receipt_template": container.receipt_version.template if container.receipt_version else None,
        "reminder_template": automation.reminder_version.template if automation.reminder_version else None,
        "reminder_after_days": automation.reminder_after_days,
    }  # fmt: skip


def _fields(data: dict[str, Any]) -> actions.AutomationFields:
    """The form's values for the actions; a template pins its latest version."""

    def latest(template: Any) -> Any:
        return template.latest_version() if template is not None else None

    clear = tuple(
        name for name, field in (("trigger_list", "trigger_list"), ("receipt_version", "receipt_template"),
                                 ("reminder_version", "reminder_template")) if data.get(field) is None
    )  # fmt: skip
    return actions.AutomationFields(
        name=data["name"], trigger=data["trigger"], trigger_list=data.get("trigger_list"),
        date_attribute=data.get("date_attribute") or "", offset_days=data.get("offset_days") or 0,
        delay_minutes=data.get("delay_minutes") or 0, version=latest(data["template"]),
        from_email=data["from_email"], from_name=data.get("from_name") or "", reply_to=data.get("reply_to") or "",
        response_url=data.get("response_url") or "", receipt_version=latest(data.get("receipt_template")),
        reminder_version=latest(data.get("reminder_template")), reminder_after_days=data.get("reminder_after_days"),
        clear=clear,
    )  # fmt: skip


def _form_page(request: HttpRequest, workspace: Workspace, automation: Automation | None) -> HttpResponse:
    refuse_viewers(request, workspace)
    user = the_user(request)
    if request.method == "POST":
        form = AutomationForm(workspace, request, request.POST)
        if form.is_valid():
            try:
                if automation is None:
                    automation = actions.create_automation(workspace, user, _fields(form.cleaned_data))
                    messages.success(request, _t("The automation is saved and active."))
                else:
                    actions.update_automation(automation, user, _fields(form.cleaned_data))
                    messages.success(request, _t("The automation is changed."))
            except InvalidInput as exc:
                add_problems(form, translated(exc), _FIELDS)
            else:
                return redirect("ws-automation", workspace.pk, automation.pk)
    elif automation is not None:
        form = AutomationForm(workspace, request, initial=_initial(automation))
    else:
        form = AutomationForm(workspace, request, initial={"from_email": user.email, "trigger": TriggerKind.LIST})
    context = _context(workspace, True, form=form, automation=automation)
    return render(request, "front/automations/form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@member_view
def automation_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    return _form_page(request, workspace, None)


@require_http_methods(["GET", "POST"])
@member_view
def automation_edit(request: HttpRequest, ws_id: int, automation_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    return _form_page(request, workspace, access_automation(the_actor(request), automation_id, workspace=workspace))


@require_GET
@member_view
def automation_detail(request: HttpRequest, ws_id: int, automation_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    automation = access_automation(the_actor(request), automation_id, workspace=workspace)
    context = _context(
        workspace, can_edit, automation=automation, stats=actions.automation_stats(automation),
        entries=actions.recent_entries(automation),
    )  # fmt: skip
    return render(request, "front/automations/detail.html", context)


@require_POST
@member_view
def automation_status(request: HttpRequest, ws_id: int, automation_id: int) -> HttpResponse:
    """Pause (``action=pause``) or resume (``action=resume``)."""
    workspace, _can_edit = audience_workspace(request, ws_id)
    automation = access_automation(the_actor(request), automation_id, workspace=workspace)
    refuse_viewers(request, workspace)
    try:
        if request.POST.get("action") == "pause":
            actions.pause_automation(automation)
            messages.success(request, _t("The automation is paused: it records entries and sends nothing."))
        else:
            actions.resume_automation(automation)
            messages.success(request, _t("The automation is active again."))
    except Conflict:
        if automation.status == AutomationStatus.PAUSED:
            messages.error(request, _t("The automation is paused already."))
        else:
            messages.error(request, _t("The automation is active already."))
    return redirect("ws-automation", workspace.pk, automation.pk)


@require_POST
@member_view
def automation_delete(request: HttpRequest, ws_id: int, automation_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    automation = access_automation(the_actor(request), automation_id, workspace=workspace)
    refuse_viewers(request, workspace)
    actions.delete_automation(automation)
    messages.success(request, _t("The automation is deleted; its queued mail is cancelled."))
    return redirect("ws-automations", workspace.pk)


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/automations/", automation_list, name="ws-automations"),
    path("workspaces/<int:ws_id>/automations/new/", automation_new, name="ws-automation-new"),
    path("workspaces/<int:ws_id>/automations/<int:automation_id>/", automation_detail, name="ws-automation"),
    path("workspaces/<int:ws_id>/automations/<int:automation_id>/edit/", automation_edit, name="ws-automation-edit"),
    path(
        "workspaces/<int:ws_id>/automations/<int:automation_id>/status/",
        automation_status,
        name="ws-automation-status",
    ),
    path(
        "workspaces/<int:ws_id>/automations/<int:automation_id>/delete/",
        automation_delete,
        name="ws-automation-delete",
    ),
]

"""Category messages of a workspace: list, send (now or at a local time), show, cancel.

Lookups as for the automations (``front.views.automations``): the workspace through
``accounts.access``, the message through ``campaigns.access.access_category_message`` with that
workspace, so every foreign or missing id is the same 404. Viewers look and change nothing.
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
from openesp.audience.models import Topic
from openesp.campaigns import category_messages as actions
from openesp.campaigns.access import access_category_message, templates_for
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Template
from openesp.front.helpers import add_problems, member_view, the_actor, the_user
from openesp.front.views.audience_common import audience_workspace, page_context, refuse_viewers, translated
from openesp.lib.errors import InvalidInput

SECTION = "category-messages"
WHEN = (("now", _("Now")), ("later", _("At a date and time")))


class CategoryMessageForm(forms.Form):
    category: forms.ModelChoiceField[Topic] = forms.ModelChoiceField(
        label=_("Category"), queryset=None, empty_label=None
    )
    template: forms.ModelChoiceField[Template] = forms.ModelChoiceField(
        label=_("Template"), queryset=None, empty_label=None
    )
    from_email = forms.CharField(label=_("From address"), max_length=320)
    from_name = forms.CharField(label=_("From name"), max_length=200, required=False)
    reply_to = forms.CharField(label=_("Reply-To"), max_length=320, required=False)
    when = forms.ChoiceField(label=_("Send"), choices=WHEN, initial="now", widget=forms.RadioSelect)
    send_at = forms.DateTimeField(
        label=_("Date and time"), required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, required=False, initial="Europe/Stockholm",
        help_text=_("An IANA time zone name, e.g. Europe/Stockholm: the date and time are read in it."),
    )  # fmt: skip

    def __init__(self, workspace: Workspace, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = queries.categories_with_counts(workspace)  # type: ignore[attr-defined]
        templates = templates_for(the_user(request)).filter(workspace=workspace).order_by("name")
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "later" and not data.get("send_at"):
            self.add_error("send_at", _("Choose the date and time to send at."))
        return data


def _context(workspace: Workspace, can_edit: bool, **more: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, SECTION, **more)


@require_GET
@member_view
def category_message_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    rows = [(m, actions.category_message_stats(m)) for m in actions.category_messages_of(workspace)]
    return render(request, "front/category_messages/list.html", _context(workspace, can_edit, rows=rows))


@require_http_methods(["GET", "POST"])
@member_view
def category_message_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    user = the_user(request)
    if request.method == "POST":
        form = CategoryMessageForm(workspace, request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            later = data["when"] == "later"
            try:
                message = actions.create_category_message(
                    workspace, user, topic=data["category"], version=data["template"].latest_version(),
                    from_email=data["from_email"], from_name=data["from_name"], reply_to=data["reply_to"],
                    send_at=data["send_at"].replace(tzinfo=None) if later else None,
                    time_zone=data["time_zone"] if later else "",
                )  # fmt: skip
            except InvalidInput as exc:
                add_problems(form, translated(exc), {"from": "from_email", "template_id": "template"})
            else:
                if later:
                    messages.success(request, _t("The category message is scheduled."))
                else:
                    messages.success(request, _t("The category message is on its way."))
                return redirect("ws-catmessage", workspace.pk, message.pk)
    else:
        form = CategoryMessageForm(workspace, request, initial={"from_email": user.email})
    context = _context(workspace, True, form=form)
    return render(request, "front/category_messages/form.html", context, status=400 if form.errors else 200)


@require_GET
@member_view
def category_message_detail(request: HttpRequest, ws_id: int, message_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    message = access_category_message(the_actor(request), message_id, workspace=workspace)
    context = _context(workspace, can_edit, message=message, stats=actions.category_message_stats(message))
    return render(request, "front/category_messages/detail.html", context)


@require_POST
@member_view
def category_message_cancel(request: HttpRequest, ws_id: int, message_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    message = access_category_message(the_actor(request), message_id, workspace=workspace)
    refuse_viewers(request, workspace)
    try:
        actions.cancel_category_message(message)
        messages.success(request, _t("The category message is cancelled: nothing of it stays queued."))
    except Conflict:
        messages.error(request, _t("This category message can no longer be cancelled."))
    return redirect("ws-catmessage", workspace.pk, message.pk)


urlpatterns: list[URLPattern] = [
    # "catmessage", not "category-message": the categories tab lights up for "ws-categor…".
    path("workspaces/<int:ws_id>/category-messages/", category_message_list, name="ws-catmessages"),
    path("workspaces/<int:ws_id>/category-messages/new/", category_message_new, name="ws-catmessage-new"),
    path("workspaces/<int:ws_id>/category-messages/<int:message_id>/", category_message_detail, name="ws-catmessage"),
    path(
        "workspaces/<int:ws_id>/category-messages/<int:message_id>/cancel/",
        category_message_cancel,
        name="ws-catmessage-cancel",
    ),
]

"""A workspace's outbound webhook endpoints: list and create (the secret shown once), edit,
delete, send a test event, and each endpoint's delivery log; and beside them the workspace's
tracking defaults (what feeds the opened and clicked events). The actions are in
``hooksout.endpoints`` and ``tracking.choice``; lookups go through ``hooksout.access`` with the
page's workspace."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from openesp.accounts.access import access_workspace, can_edit, require_editor
from openesp.accounts.models import Workspace
from openesp.front.helpers import add_problems, member_view, the_actor
from openesp.hooksout.access import WEBHOOKS_REFUSAL, access_endpoint, endpoint_deliveries, workspace_endpoints
from openesp.hooksout.endpoints import create_endpoint, delete_endpoint, send_test, update_endpoint
from openesp.hooksout.models import EVENT_TYPES, WebhookEndpoint
from openesp.lib.errors import InvalidInput
from openesp.tracking.choice import defaults_of, set_defaults

LOG_ROWS = 50


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("URL"), max_length=2000, help_text=gettext_lazy("Receives one POST per event.")
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(e, e) for e in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)


def _page(request: HttpRequest, ws_id: int) -> tuple[Workspace, bool]:
    actor = the_actor(request)
    workspace = access_workspace(actor, ws_id)
    return workspace, can_edit(actor, workspace)


def _context(workspace: Workspace, editable: bool, **extra: Any) -> dict[str, Any]:
    return {"workspace": workspace, "organization": workspace.organization, "can_edit": editable, **extra}


def _problems(form: EndpointForm, exc: InvalidInput) -> None:
    add_problems(form, InvalidInput([type(p)(p.field, _(str(p.reason))) for p in exc.problems]))


@require_http_methods(["GET", "POST"])
@member_view
def endpoint_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, editable = _page(request, ws_id)
    form = EndpointForm(request.POST or None)
    secret = None
    if request.method == "POST":
        require_editor(the_actor(request), workspace, WEBHOOKS_REFUSAL)
        if form.is_valid():
            try:
                _endpoint, secret = create_endpoint(
                    workspace, form.cleaned_data["url"], form.cleaned_data["events"], form.cleaned_data["description"]
                )
            except InvalidInput as exc:
                _problems(form, exc)
            else:
                form = EndpointForm()
    context = _context(workspace, editable, form=form, secret=secret, endpoints=list(workspace_endpoints(workspace)))
    response = render(request, "front/webhooks/list.html", context)
    if secret:
        response["Cache-Control"] = "no-store"  # the one page that shows the secret
    return response


@require_http_methods(["GET", "POST"])
@member_view
def endpoint_detail(request: HttpRequest, ws_id: int, endpoint_id: int) -> HttpResponse:
    workspace, editable = _page(request, ws_id)
    endpoint = access_endpoint(the_actor(request), endpoint_id, workspace=workspace)
    initial = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
    form = EndpointForm(request.POST or None, initial={**initial, "active": endpoint.active})
    if request.method == "POST":
        require_editor(the_actor(request), workspace, WEBHOOKS_REFUSAL)
        if form.is_valid():
            try:
                update_endpoint(endpoint, **form.cleaned_data)
            except InvalidInput as exc:
                _problems(form, exc)
            else:
                messages.success(request, _("The endpoint was saved."))
                return redirect("ws-webhook", workspace.pk, endpoint.pk)
    log = list(endpoint_deliveries(endpoint)[:LOG_ROWS])
    return render(
        request, "front/webhooks/detail.html", _context(workspace, editable, endpoint=endpoint, form=form, log=log)
    )


@require_POST
@member_view
def endpoint_test(request: HttpRequest, ws_id: int, endpoint_id: int) -> HttpResponse:
    workspace = access_workspace(the_actor(request), ws_id)
    endpoint = access_endpoint(the_actor(request), endpoint_id, workspace=workspace)
    require_editor(the_actor(request), workspace, WEBHOOKS_REFUSAL)
    delivery = send_test(endpoint)
    if delivery.status == "delivered":
        messages.success(
            request, _("The test event was delivered (HTTP %(code)s).") % {"code": delivery.last_status_code}
        )
    else:
        messages.error(request, _("The test event failed: %(error)s") % {"error": delivery.last_error})
    return redirect("ws-webhook", workspace.pk, endpoint.pk)


@require_POST
@member_view
def endpoint_delete(request: HttpRequest, ws_id: int, endpoint_id: int) -> HttpResponse:
    workspace = access_workspace(the_actor(request), ws_id)
    endpoint: WebhookEndpoint = access_endpoint(the_actor(request), endpoint_id, workspace=workspace)
    require_editor(the_actor(request), workspace, WEBHOOKS_REFUSAL)
    delete_endpoint(endpoint)
    messages.success(request, _("The endpoint was deleted."))
    return redirect("ws-webhooks", workspace.pk)


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/webhooks/", endpoint_list, name="ws-webhooks"),
    path("workspaces/<int:ws_id>/webhooks/<int:endpoint_id>/", endpoint_detail, name="ws-webhook"),
    path("workspaces/<int:ws_id>/webhooks/<int:endpoint_id>/test/", endpoint_test, name="ws-webhook-test"),
    path("workspaces/<int:ws_id>/webhooks/<int:endpoint_id>/delete/", endpoint_delete, name="ws-webhook-delete"),
]


# --- the workspace's tracking defaults (openesp/tracking, docs/tracking.md) ----------------------


class TrackingForm(forms.Form):
    campaign_opens = forms.BooleanField(label=gettext_lazy("Count opens of campaign mail"), required=False)
    campaign_clicks = forms.BooleanField(label=gettext_lazy("Count clicks in campaign mail"), required=False)
    transactional_opens = forms.BooleanField(label=gettext_lazy("Count opens of transactional mail"), required=False)
    transactional_clicks = forms.BooleanField(label=gettext_lazy("Count clicks in transactional mail"), required=False)


@require_http_methods(["GET", "POST"])
@member_view
def tracking_defaults(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, editable = _page(request, ws_id)
    current = defaults_of(workspace.pk, fresh=True)
    initial = {name: getattr(current, name) for name in TrackingForm.base_fields}
    form = TrackingForm(request.POST or None, initial=initial)
    if request.method == "POST":
        require_editor(the_actor(request), workspace, WEBHOOKS_REFUSAL)
        if form.is_valid():
            set_defaults(workspace.pk, **form.cleaned_data)
            messages.success(request, _("The tracking defaults were saved."))
            return redirect("ws-tracking", workspace.pk)
    return render(request, "front/webhooks/tracking.html", _context(workspace, editable, form=form))


urlpatterns.append(path("workspaces/<int:ws_id>/tracking/", tracking_defaults, name="ws-tracking"))

"""A workspace's sending domains (read here; added and removed through the API or by the
operator) and each domain's health: the SPF, DKIM, DMARC and return-path records to publish,
and what DNS holds now (``delivery.health``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from openesp.accounts.access import access_workspace
from openesp.delivery.health import domain_health
from openesp.front.helpers import member_view, the_actor
from openesp.messaging.access import access_sending_domain, workspace_sending_domains


@require_GET
@member_view
def domain_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace = access_workspace(the_actor(request), ws_id)
    context = {
        "workspace": workspace,
        "organization": workspace.organization,
        "domains": list(workspace_sending_domains(workspace)),
    }
    return render(request, "front/domains/list.html", context)


@require_GET
@member_view
def domain_detail(request: HttpRequest, ws_id: int, domain_id: int) -> HttpResponse:
    actor = the_actor(request)
    workspace = access_workspace(actor, ws_id)
    domain = access_sending_domain(actor, domain_id)
    if domain.workspace_id != workspace.pk:  # another workspace's domain under this one: as missing
        raise Http404("sending domain not found")
    health = domain_health(domain)
    checks = [(name, health[name]) for name in ("spf", "dkim", "dmarc", "return_path")]
    context = {"workspace": workspace, "organization": workspace.organization, "domain": domain, "checks": checks}
    return render(request, "front/domains/detail.html", context)


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/domains/", domain_list, name="ws-domains"),
    path("workspaces/<int:ws_id>/domains/<int:domain_id>/", domain_detail, name="ws-domain"),
]

"""Outsider rows for outbound webhook endpoints (scope ``webhooks``), and a sending domain's
health (``{domain_id}`` is the table's own Acme domain)."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.hooksout.endpoints import create_endpoint
from openesp.hooksout.models import WebhookDelivery, WebhookEndpoint
from tests.api.tenancy_areas import Route

_NEW = {"url": "https://hooks.evil.example/x", "events": ["message.sent"]}

ROUTES = [
    Route("POST", "/api/v1/webhooks", {**_NEW, "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/webhooks?workspace={workspace_id}"),
    Route("GET", "/api/v1/webhooks/{endpoint_id}"),
    Route("PATCH", "/api/v1/webhooks/{endpoint_id}", {"url": "https://hooks.evil.example/y", "active": False}),
    Route("DELETE", "/api/v1/webhooks/{endpoint_id}"),
    Route("POST", "/api/v1/webhooks/{endpoint_id}/test"),
    Route("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"),
    Route("GET", "/api/v1/domains/{domain_id}/health"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    endpoint, _secret = create_endpoint(workspace, "https://hooks.acme.example/in", ["message.sent"])
    return {"endpoint_id": endpoint.pk}


def snapshot() -> list[list[Any]]:
    return [
        list(WebhookEndpoint.objects.order_by("pk").values()),
        list(WebhookDelivery.objects.order_by("pk").values()),
    ]

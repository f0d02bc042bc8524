"""Looking up webhook endpoints through the caller (``accounts.access``): 404 alike for a
missing endpoint and another tenant's."""

from __future__ import annotations

from django.db.models import QuerySet

from openesp.accounts.access import Actor, access_by_id
from openesp.accounts.models import User, Workspace
from openesp.hooksout.models import WebhookDelivery, WebhookEndpoint

# Why a viewer may not change a workspace's endpoints (``require_editor``).
WEBHOOKS_REFUSAL = "viewers cannot change the webhooks of this workspace"


def workspace_endpoints(workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    """The endpoints of a workspace the caller has reached, oldest first."""
    return WebhookEndpoint.objects.filter(workspace=workspace).order_by("created_at", "id")


def access_endpoint(actor: Actor | User, endpoint_id: object, *, workspace: Workspace | None = None) -> WebhookEndpoint:
    queryset = WebhookEndpoint.objects.select_related("workspace")
    return access_by_id(actor, queryset, endpoint_id, "webhook endpoint", workspace=workspace)


def endpoint_deliveries(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The delivery log of an endpoint the caller has reached, newest first."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")

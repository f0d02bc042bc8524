"""The actions on webhook endpoints, shared by the API and the web UI: create (the secret is
answered once), change, delete, and send a test event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.hooksout.deliver import attempt, record
from openesp.hooksout.http import check_url
from openesp.hooksout.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from openesp.hooksout.outbox import new_webhook_id
from openesp.hooksout.payload import render
from openesp.hooksout.signing import new_secret
from openesp.lib import secretbox
from openesp.lib.errors import InvalidInput

TEST_EVENT = "webhook.test"


def check_events(events: Sequence[str], field: str = "events") -> list[str]:
    if not events:
        raise InvalidInput.one(field, "choose at least one event type")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput.one(field, f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
    return [e for e in EVENT_TYPES if e in events]  # de-duplicated, in a stable order


def create_endpoint(
    workspace: Workspace, url: str, events: Sequence[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (``whsec_…``), which is shown this once and stored encrypted."""
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        workspace=workspace,
        url=check_url(url),
        events=check_events(events),
        description=description[:200],
        secret_encrypted=secretbox.encrypt(secret),
    )
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    if url is not None:
        endpoint.url = check_url(url)
    if events is not None:
        endpoint.events = check_events(events)
    if description is not None:
        endpoint.description = description[:200]
    if active is not None:
        endpoint.active = active
    endpoint.updated_at = timezone.now()
    endpoint.save()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.delete()  # its pending deliveries go with it


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``webhook.test`` event now, once (no retries), and return the logged attempt."""
    now = timezone.now()
    body = render(
        TEST_EVENT,
        now,
        {
            "message_id": None, "email": "test@example.com", "workspace_id": endpoint.workspace_id,
            "category": None, "campaign_id": None, "smtp_code": None, "enhanced_status": None,
            "detail": "a test event sent from openesp", "url": None,
        },
    )  # fmt: skip
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            webhook_id=new_webhook_id(),
            type=TEST_EVENT,
            body=body,
            lease_until=now + timedelta(minutes=5),  # this request sends it, no worker
        )
    delivery.endpoint = endpoint
    record(delivery, attempt(delivery), timezone.now(), retry=False)
    return delivery

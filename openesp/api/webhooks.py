"""Outbound webhook endpoints of a workspace (scope ``webhooks``): create (the secret is answered
this once), read, change, delete, send a test event, read the delivery log.

The workspace is named as for contacts (``api.scope.workspace_of``); endpoints named by id answer
404 alike for missing and foreign ones. Viewers read; they change nothing. The actions are in
``hooksout.endpoints``; docs/webhooks.md describes the requests your endpoint receives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import require_editor
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS
from openesp.api.params import MAX_ID, MAX_PAGE, Id, PageLimit
from openesp.api.scope import WORKSPACE_HELP, workspace_of
from openesp.hooksout.access import WEBHOOKS_REFUSAL, access_endpoint, endpoint_deliveries, workspace_endpoints
from openesp.hooksout.endpoints import create_endpoint, delete_endpoint, send_test, update_endpoint
from openesp.hooksout.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("webhooks"), tags=["webhooks"])
_EVENTS = "some of " + ", ".join(EVENT_TYPES)


class EndpointIn(Schema):
    url: str = Field(
        description="http(s) URL that receives one POST per event", examples=["https://shop.example/hooks"]
    )
    events: list[str] = Field(description=_EVENTS, examples=[["message.delivered", "message.bounced"]])
    description: str = Field("", max_length=200)
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class EndpointPatch(Schema):
    url: str | None = None
    events: list[str] | None = Field(None, description=_EVENTS)
    description: str | None = Field(None, max_length=200)
    active: bool | None = Field(None, description="false: no events are queued for it until it is active again")


class EndpointOut(Schema):
    id: int
    workspace_id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime


class NewEndpointOut(EndpointOut):
    secret: str = Field(description="whsec_…: verify our signatures with it. Shown this once only")


class DeliveryOut(Schema):
    id: int
    webhook_id: str = Field(description="the webhook-id header (the same on every retry)")
    type: str
    status: str = Field(description="pending, delivered or failed (given up)")
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when pending: the next attempt")
    body: str = Field(description="the JSON body sent")


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None


def _out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "workspace_id": endpoint.workspace_id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "active": endpoint.active,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def _delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "webhook_id": delivery.webhook_id,
        "type": delivery.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "last_attempt_at": delivery.last_attempt_at,
        "delivered_at": delivery.delivered_at,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending" else None,
        "body": delivery.body,
    }


@router.post(
    "/webhooks",
    response={201: NewEndpointOut, **ERRORS},
    summary="Add an endpoint; the answer holds its signing secret, shown this once",
)
def create(request: HttpRequest, payload: EndpointIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    require_editor(c.actor, workspace, WEBHOOKS_REFUSAL)
    endpoint, secret = create_endpoint(workspace, payload.url, payload.events, payload.description)
    return Status(201, {**_out(endpoint), "secret": secret})


@router.get("/webhooks", response={200: list[EndpointOut], **ERRORS}, summary="The workspace's endpoints")
def list_endpoints(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    return [_out(e) for e in workspace_endpoints(workspace_of(caller(request), workspace))]


@router.get("/webhooks/{endpoint_id}", response={200: EndpointOut, **ERRORS}, summary="One endpoint")
def get_endpoint(request: HttpRequest, endpoint_id: Id) -> dict[str, Any]:
    return _out(access_endpoint(caller(request).actor, endpoint_id))


@router.patch(
    "/webhooks/{endpoint_id}",
    response={200: EndpointOut, **ERRORS},
    summary="Change an endpoint's URL, events, description or whether it is active",
)
def patch_endpoint(request: HttpRequest, endpoint_id: Id, payload: EndpointPatch) -> dict[str, Any]:
    c = caller(request)
    endpoint = access_endpoint(c.actor, endpoint_id)
    require_editor(c.actor, endpoint.workspace, WEBHOOKS_REFUSAL)
    return _out(update_endpoint(endpoint, **payload.dict(exclude_unset=True)))


@router.delete(
    "/webhooks/{endpoint_id}",
    response={204: None, **ERRORS},
    summary="Delete an endpoint and its delivery log; pending deliveries are dropped",
)
def remove_endpoint(request: HttpRequest, endpoint_id: Id) -> Status[None]:
    c = caller(request)
    endpoint = access_endpoint(c.actor, endpoint_id)
    require_editor(c.actor, endpoint.workspace, WEBHOOKS_REFUSAL)
    delete_endpoint(endpoint)
    return Status(204, None)


@router.post(
    "/webhooks/{endpoint_id}/test",
    response={200: DeliveryOut, **ERRORS},
    summary="Send a webhook.test event now, once; answers the attempt as logged",
)
def test_endpoint(request: HttpRequest, endpoint_id: Id) -> dict[str, Any]:
    c = caller(request)
    endpoint = access_endpoint(c.actor, endpoint_id)
    require_editor(c.actor, endpoint.workspace, WEBHOOKS_REFUSAL)
    return _delivery_out(send_test(endpoint))


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response={200: DeliveryPageOut, **ERRORS},
    summary="The endpoint's delivery log, newest first",
    description=f"Pages hold `limit` deliveries (default 50, at most {MAX_PAGE}); follow `next_cursor` until null.",
)
def deliveries(
    request: HttpRequest, endpoint_id: Id, limit: PageLimit = 50, cursor: str | None = None
) -> dict[str, Any]:
    rows = endpoint_deliveries(access_endpoint(caller(request).actor, endpoint_id))
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_ID):
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        rows = rows.filter(id__lt=int(cursor))
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [_delivery_out(d) for d in page], "next_cursor": str(page[-1].pk) if more and page else None}

"""Lists of a workspace and their subscribers (scope ``contacts``).

Tenancy as for every audience route (``api.scope``): ids in the path answer 404 alike for missing
and foreign lists and contacts; a ``contact_id`` in the body that the list's workspace does not
have is a 422. Viewers read; they cannot change anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS
from openesp.api.params import Id
from openesp.api.scope import WORKSPACE_HELP, ConsentIn, consent_from, may_change, operation_id, workspace_of
from openesp.audience import actions, queries
from openesp.audience.access import access_contact, access_list, contact_named
from openesp.audience.actions import ContactExists
from openesp.audience.models import ContactList
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("contacts"), tags=["contacts"])


class ListIn(Schema):
    name: str
    double_opt_in: bool = False
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class ListPatch(Schema):
    name: str | None = None
    double_opt_in: bool | None = None


class ListOut(Schema):
    id: int
    workspace_id: int
    name: str
    double_opt_in: bool
    subscribed: int
    pending: int
    created_at: datetime


class SubscriberIn(Schema):
    contact_id: Id | None = Field(None, description="a contact of the list's workspace …")
    email: str | None = Field(None, description="… or an address: its contact, made if there is none")
    consent: ConsentIn | None = None


class SubscriptionDetailOut(Schema):
    contact_id: int
    list_id: int
    status: str = Field(description="subscribed, or pending on a double opt-in list until confirmed")


def _list_out(cl: ContactList) -> dict[str, Any]:
    counts = {"subscribed": 0, "pending": 0}
    for status in cl.subscriptions.filter(status__in=counts).values_list("status", flat=True):
        counts[status] += 1
    return {
        "id": cl.pk,
        "workspace_id": cl.workspace_id,
        "name": cl.name,
        "double_opt_in": cl.double_opt_in,
        **counts,
        "created_at": cl.created_at,
    }


@router.post(
    "/lists", response={201: ListOut, **ERRORS}, summary="Make a list", operation_id=operation_id("create_list")
)
def create_list(request: HttpRequest, payload: ListIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    return Status(201, _list_out(actions.create_list(workspace, payload.name, double_opt_in=payload.double_opt_in)))


@router.get(
    "/lists",
    response={200: list[ListOut], **ERRORS},
    summary="A workspace's lists",
    operation_id=operation_id("list_lists"),
)
def list_lists(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    return [_list_out(cl) for cl in queries.lists_of(ws)]


@router.get(
    "/lists/{list_id}", response={200: ListOut, **ERRORS}, summary="A list", operation_id=operation_id("get_list")
)
def get_list(request: HttpRequest, list_id: Id) -> dict[str, Any]:
    return _list_out(access_list(caller(request).actor, list_id))


@router.patch(
    "/lists/{list_id}",
    response={200: ListOut, **ERRORS},
    summary="Rename a list or change its opt-in",
    operation_id=operation_id("update_list"),
)
def update_list(request: HttpRequest, list_id: Id, payload: ListPatch) -> dict[str, Any]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    may_change(c, contact_list.workspace)
    return _list_out(actions.update_list(contact_list, name=payload.name, double_opt_in=payload.double_opt_in))


@router.delete(
    "/lists/{list_id}",
    response={204: None, **ERRORS},
    summary="Delete a list and its subscriptions (the contacts stay)",
    operation_id=operation_id("delete_list"),
)
def delete_list(request: HttpRequest, list_id: Id) -> Status[None]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    may_change(c, contact_list.workspace)
    actions.delete_list(contact_list)
    return Status(204, None)


@router.post(
    "/lists/{list_id}/subscribers",
    response={201: SubscriptionDetailOut, **ERRORS},
    summary="Subscribe a contact (by id or address) to a list",
    description="Subscribing again changes nothing. On a double opt-in list the subscription stays "
    "`pending` until confirmed. A `contact_id` the list's workspace does not have is a 422.",
    operation_id=operation_id("add_subscriber"),
)
def add_subscriber(request: HttpRequest, list_id: Id, payload: SubscriberIn) -> Status[dict[str, Any]]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    may_change(c, contact_list.workspace)
    consent = consent_from(c, payload.consent)
    if (payload.contact_id is None) == (payload.email is None):
        raise InvalidInput.one("contact_id", "give either contact_id or email")
    if payload.contact_id is not None:
        contact = contact_named(
            c.actor,
            payload.contact_id,
            workspace=contact_list.workspace,
            reason="the list's workspace has no contact with this id",
        )
    else:
        try:
            contact = actions.create_contact(contact_list.workspace, payload.email or "", consent=consent)
        except ContactExists as exc:
            contact = exc.contact
    subscription = actions.subscribe(contact, contact_list, consent)
    return Status(201, {"contact_id": contact.pk, "list_id": contact_list.pk, "status": subscription.status})


@router.delete(
    "/lists/{list_id}/subscribers/{contact_id}",
    response={204: None, **ERRORS},
    summary="Unsubscribe a contact from a list",
    description="The subscription is kept as `unsubscribed` (and recorded in the consent ledger). Idempotent.",
    operation_id=operation_id("remove_subscriber"),
)
def remove_subscriber(request: HttpRequest, list_id: Id, contact_id: Id) -> Status[None]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    contact = access_contact(c.actor, contact_id, workspace=contact_list.workspace)
    may_change(c, contact_list.workspace)
    if actions.unsubscribe(contact, contact_list, consent_from(c, None)) is None:
        raise Http404("the contact is not on this list")
    return Status(204, None)

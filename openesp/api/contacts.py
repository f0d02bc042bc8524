"""Contacts of a workspace (scope ``contacts``): add, find, change, erase, export.

Tenancy as for every audience route (``api.scope``): ids in the path answer 404 alike for missing
and foreign contacts; ids in a body that the workspace does not have are a 422 naming the field.
Viewers read; they cannot change anything. Routes parse and authorise, then call
``audience.actions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import access_workspace
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.params import MAX_PAGE, Id, PageLimit
from openesp.api.scope import (
    WORKSPACE_HELP,
    ConsentIn,
    consent_from,
    key_consent,
    may_change,
    operation_id,
    workspace_of,
)
from openesp.audience import actions, export, gdpr, queries
from openesp.audience.access import access_contact, access_list, access_segment, lists_named
from openesp.audience.actions import ContactExists
from openesp.audience.models import Contact, ContactStatus
from openesp.audience.segments import attribute_equals, matching_contacts, segment_contacts
from openesp.lib.downloads import csv_download
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("contacts"), tags=["contacts"])


class ContactIn(Schema):
    email: str
    name: str = ""
    language: str = Field("", description="a language tag, e.g. en or sv")
    time_zone: str = Field("", description="an IANA time zone, e.g. Europe/Stockholm")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="strings, numbers, booleans; dates as ISO 8601 strings; nothing nested. Names ignore case: "
        "the workspace keeps the spelling first written",
    )
    lists: list[Id] = Field(default_factory=list, description="ids of lists to subscribe the contact to")
    consent: ConsentIn | None = None
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class ContactPatch(Schema):
    email: str | None = None
    name: str | None = None
    language: str | None = None
    time_zone: str | None = None
    status: str | None = Field(None, description=", ".join(ContactStatus.values))
    attributes: dict[str, Any] | None = Field(None, description="merged into the present ones; null removes one")


class SubscriptionOut(Schema):
    list_id: int
    status: str


class ContactOut(Schema):
    id: int
    workspace_id: int
    email: str
    name: str
    language: str
    time_zone: str
    status: str
    attributes: dict[str, Any]
    lists: list[SubscriptionOut]
    created_at: datetime
    updated_at: datetime


class ContactPageOut(Schema):
    items: list[ContactOut] = Field(description="oldest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class ConflictOut(ErrorOut):
    id: int = Field(description="the existing contact")


def contact_out(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "workspace_id": contact.workspace_id,
        "email": contact.email,
        "name": contact.name,
        "language": contact.language,
        "time_zone": contact.time_zone,
        "status": contact.status,
        "attributes": contact.attributes,
        "lists": [
            {"list_id": s.contact_list_id, "status": s.status}
            for s in sorted(contact.subscriptions.all(), key=lambda s: s.contact_list_id)
        ],
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


@router.post(
    "/contacts",
    response={201: ContactOut, 409: ConflictOut, **ERRORS},
    summary="Add a contact, optionally subscribing it to lists",
    description="409 with the existing contact's `id` when the workspace has the address already "
    "(addresses compare case-insensitively); change that contact with PATCH. On a double opt-in "
    "list the subscription is `pending` until confirmed.",
    operation_id=operation_id("create_contact"),
)
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    lists = lists_named(c.actor, payload.lists, workspace=workspace)
    try:
        contact = actions.create_contact(
            workspace,
            payload.email,
            name=payload.name,
            language=payload.language,
            time_zone=payload.time_zone,
            attributes=payload.attributes,
            lists=lists,
            consent=consent_from(c, payload.consent),
        )
    except ContactExists as exc:
        return Status(409, {"error": "conflict", "detail": str(exc), "id": exc.contact.pk})
    return Status(201, contact_out(contact))


_ATTRIBUTE_FILTERS = (
    "`attributes.<name>=<value>` (any number of them, all must hold; the name in any case): the attribute "
    "equals the value. The value is matched as text, and also as a number when it reads as one "
    '(`attributes.age=34` finds 34 and "34") and as a boolean when it is `true` or `false`; give '
    "`attributes.<name>` with an empty value to find contacts that have the attribute at all."
)


@router.get(
    "/contacts",
    response={200: ContactPageOut, **ERRORS},
    summary="A workspace's contacts, a page at a time",
    description=f"Filters, all of which must hold: `email` (exact, any case), `list` (subscribed or pending), "
    f"`status`, {_ATTRIBUTE_FILTERS} `segment` (the id of a segment of the workspace: its contacts now) and "
    '`q` (a query in the segment syntax, e.g. `q=attributes.country = "SE" and not opened in 90 days`; see '
    f"docs/segments.md). Pages hold `limit` contacts (default 50, at most {MAX_PAGE}); follow `next_cursor` "
    "until it is null.",
    openapi_extra={
        "parameters": [
            {
                "in": "query",
                "name": "attributes.<name>",
                "required": False,
                "schema": {"type": "string"},
                "description": _ATTRIBUTE_FILTERS,
            }
        ]
    },
    operation_id=operation_id("list_contacts"),
)
def list_contacts(
    request: HttpRequest,
    workspace: Id | None = None,
    email: str | None = None,
    list: Id | None = None,  # shadows the builtin: the contract names it so
    status: str | None = None,
    segment: Id | None = None,
    q: str | None = None,
    limit: PageLimit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    c = caller(request)
    ws = workspace_of(c, workspace)
    contacts = queries.contacts_of(ws)
    if list is not None:
        contact_list = access_list(c.actor, list, workspace=ws)
        contacts = contacts.filter(
            subscriptions__contact_list=contact_list, subscriptions__status__in=["subscribed", "pending"]
        )
    if segment is not None:
        saved = access_segment(c.actor, segment, workspace=ws)
        contacts = contacts.filter(pk__in=segment_contacts(saved).values("pk"))
    if email:
        contacts = contacts.filter(email_key=email.strip().lower())
    if status is not None:
        if status not in ContactStatus.values:
            raise InvalidInput.one("status", f"must be one of {', '.join(ContactStatus.values)}")
        contacts = contacts.filter(status=status)
    for name in request.GET:
        if name.startswith("attributes."):
            for value in request.GET.getlist(name):
                contacts = contacts.filter(attribute_equals(ws, name.removeprefix("attributes."), value, field=name))
    if q:
        contacts = contacts.filter(pk__in=matching_contacts(ws, q).values("pk"))
    return contact_page(contacts, limit, cursor)


def contact_page(contacts: QuerySet[Contact], limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of ``contacts`` by id, for every route that pages through contacts."""
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()):  # "²".isdigit() too, and int() refuses it
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        contacts = contacts.filter(id__gt=int(cursor))
    page = [*contacts.prefetch_related("subscriptions").order_by("id")[: limit + 1]]
    more = len(page) > limit
    page = page[:limit]
    return {"items": [contact_out(x) for x in page], "next_cursor": str(page[-1].pk) if more else None}


@router.get(
    "/contacts/{contact_id}",
    response={200: ContactOut, **ERRORS},
    summary="A contact",
    operation_id=operation_id("get_contact"),
)
def get_contact(request: HttpRequest, contact_id: Id) -> dict[str, Any]:
    return contact_out(access_contact(caller(request).actor, contact_id))


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, 409: ConflictOut, **ERRORS},
    summary="Change a contact: only the fields sent",
    operation_id=operation_id("update_contact"),
)
def update_contact(request: HttpRequest, contact_id: Id, payload: ContactPatch) -> Any:
    c = caller(request)
    contact = access_contact(c.actor, contact_id)
    may_change(c, contact.workspace)
    try:
        contact = actions.update_contact(contact, payload.model_dump(exclude_unset=True))
    except ContactExists as exc:
        return Status(409, {"error": "conflict", "detail": str(exc), "id": exc.contact.pk})
    return Status(200, contact_out(contact))


@router.delete(
    "/contacts/{contact_id}",
    response={204: None, **ERRORS},
    summary="Erase a contact (GDPR): the contact, its subscriptions and its consent records",
    description="Suppressions of the address stay, so that mail to it stays stopped. The consent ledger "
    "keeps one `erase` record naming the address only by a keyed hash.",
    operation_id=operation_id("erase_contact"),
)
def erase_contact(request: HttpRequest, contact_id: Id) -> Status[None]:
    c = caller(request)
    contact = access_contact(c.actor, contact_id)
    may_change(c, contact.workspace)
    gdpr.erase_contact(contact, c.user, key_consent(c))
    return Status(204, None)


@router.get(
    "/contacts/{contact_id}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="Everything held about a contact (GDPR access request)",
    description="The contact, its subscriptions, its consent records, suppressions of its address and "
    "the messages sent to it in the workspace.",
    operation_id=operation_id("export_contact"),
)
def export_contact(request: HttpRequest, contact_id: Id) -> dict[str, Any]:
    return gdpr.export_contact_data(access_contact(caller(request).actor, contact_id))


@router.get(
    "/workspaces/{workspace_id}/contacts/export",
    response={200: None, **ERRORS},
    summary="The workspace's contacts as CSV (streamed)",
    description="Columns: email, name, language, time_zone, status, lists (names, `;`-separated), then "
    "`attributes.<name>`. Cells that a spreadsheet would run as a formula get a leading `'`.",
    operation_id=operation_id("export_contacts"),
)
def export_contacts(request: HttpRequest, workspace_id: Id) -> StreamingHttpResponse:
    workspace = access_workspace(caller(request).actor, workspace_id)
    return csv_download(export.export_contacts_csv(workspace), f"contacts-{workspace.pk}.csv")

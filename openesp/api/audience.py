"""Contacts, lists, subscriptions and suppressions of a workspace (scope ``contacts``).

A personal key names the workspace (``workspace`` in the body or the query); a workspace key
uses its own when it names none, and reaches the other workspaces of its organization like the
user who made it (docs/api.md). Ids in the path answer 404 alike for missing and foreign objects;
ids in a body that the workspace does not have are a 422 naming the field. Viewers read; they
cannot change anything. Routes parse and authorise, then call ``audience.actions``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, StreamingHttpResponse
from ninja import Body, Field, Router, Schema, Status

from openesp.accounts.access import NotAllowed, membership_for, workspaces_for
from openesp.accounts.models import Role, Workspace
from openesp.api.auth import ApiKeyAuth, Caller, Forbidden, caller, reach_workspace
from openesp.api.errors import ERRORS, ErrorOut
from openesp.audience import actions, suppressions
from openesp.audience.actions import ContactExists
from openesp.audience.consent import Consent
from openesp.audience.models import (
    ConsentSource,
    Contact,
    ContactList,
    ContactStatus,
    Segment,
    Suppression,
    SuppressionReason,
)
from openesp.audience.segments import attribute_equals, matching_contacts, segment_contacts
from openesp.audience.suppressions import GlobalSuppression
from openesp.lib.downloads import csv_download
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("contacts"), tags=["contacts"])

MAX_PAGE = 100
_WORKSPACE = "personal keys: the workspace (required); workspace keys: their own when omitted"


# --- tenancy helpers (shared with the imports, segments and categories routers) ----------------


def workspace_of(c: Caller, workspace_id: int | None) -> Workspace:
    """The workspace a request names (``workspace``), or a workspace key's own; 404 if not reachable."""
    if workspace_id is None:
        if c.key.workspace_id is None:
            raise InvalidInput.one("workspace", "is required with a personal API key")
        workspace_id = c.key.workspace_id
    return reach_workspace(c, workspace_id)


def reachable(c: Caller) -> QuerySet[Workspace]:
    """The workspaces the caller may read: for objects looked up by their own id."""
    workspaces = workspaces_for(c.user)
    if c.bound_organization_id is not None:
        workspaces = workspaces.filter(organization_id=c.bound_organization_id)
    return workspaces


def contact_of(c: Caller, contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id, workspace__in=reachable(c).values("id")).first()
    if contact is None:
        raise Http404("contact not found")
    return contact


def list_of(c: Caller, list_id: int) -> ContactList:
    contact_list = (
        ContactList.objects.select_related("workspace")
        .filter(pk=list_id, workspace__in=reachable(c).values("id"))
        .first()
    )
    if contact_list is None:
        raise Http404("list not found")
    return contact_list


def may_change(c: Caller, workspace: Workspace) -> None:
    if membership_for(c.user, workspace.organization_id).role == Role.VIEWER:
        raise NotAllowed("viewers cannot change the audience of this workspace")


def consent_from(c: Caller, given: ConsentIn | None) -> Consent:
    ip = given.ip if given else None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidInput.one("consent.ip", "is not an IP address") from None
    return Consent(
        source=ConsentSource.API,
        detail=f"API key {c.key.prefix}",
        text_version=given.text_version if given else "",
        ip=ip,
        actor=c.user,
    )


# --- contacts ----------------------------------------------------------------------------------


class ConsentIn(Schema):
    """What the subscriber agreed to and from where, when your form collected it: for the ledger."""

    text_version: str = Field("", max_length=64, description="the version of the consent text shown")
    ip: str | None = Field(None, description="the subscriber's IP address")


class ContactIn(Schema):
    email: str
    name: str = ""
    language: str = Field("", description="a language tag, e.g. en or sv")
    time_zone: str = Field("", description="an IANA time zone, e.g. Europe/Stockholm")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="strings, numbers, booleans; dates as ISO 8601 strings; nothing nested"
    )
    lists: list[int] = Field(default_factory=list, description="ids of lists to subscribe the contact to")
    consent: ConsentIn | None = None
    workspace: int | None = Field(None, description=_WORKSPACE)


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
)
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    lists = list(ContactList.objects.filter(workspace=workspace, pk__in=payload.lists))
    if len(lists) != len(set(payload.lists)):
        raise InvalidInput.one("lists", "names a list the workspace does not have")
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
    "`attributes.<name>=<value>` (any number of them, all must hold): the attribute equals the value. The "
    "value is matched as text, and also as a number when it reads as one (`attributes.age=34` finds 34 and "
    '"34") and as a boolean when it is `true` or `false`; give `attributes.<name>` with an empty value '
    "to find contacts that have the attribute at all."
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
)
def list_contacts(
    request: HttpRequest,
    workspace: int | None = None,
    email: str | None = None,
    list: int | None = None,  # shadows the builtin: the contract names it so
    status: str | None = None,
    segment: int | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    c = caller(request)
    ws = workspace_of(c, workspace)
    contacts = Contact.objects.filter(workspace=ws)
    if list is not None:
        contact_list = ContactList.objects.filter(workspace=ws, pk=list).first()
        if contact_list is None:
            raise Http404("list not found")
        contacts = contacts.filter(
            subscriptions__contact_list=contact_list, subscriptions__status__in=["subscribed", "pending"]
        )
    if segment is not None:
        saved = Segment.objects.filter(workspace=ws, pk=segment).first()
        if saved is None:
            raise Http404("segment not found")
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
                contacts = contacts.filter(attribute_equals(name.removeprefix("attributes."), value, field=name))
    if q:
        contacts = contacts.filter(pk__in=matching_contacts(ws, q).values("pk"))
    return contact_page(contacts, limit, cursor)


def contact_page(contacts: QuerySet[Contact], limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of ``contacts`` by id, for every route that pages through contacts."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput.one("limit", f"must be between 1 and {MAX_PAGE}")
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()):  # "²".isdigit() too, and int() refuses it
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        contacts = contacts.filter(id__gt=int(cursor))
    page = [*contacts.prefetch_related("subscriptions").order_by("id")[: limit + 1]]
    more = len(page) > limit
    page = page[:limit]
    return {"items": [contact_out(x) for x in page], "next_cursor": str(page[-1].pk) if more else None}


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, summary="A contact")
def get_contact(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    return contact_out(contact_of(caller(request), contact_id))


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, 409: ConflictOut, **ERRORS},
    summary="Change a contact: only the fields sent",
)
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> Any:
    c = caller(request)
    contact = contact_of(c, contact_id)
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
)
def erase_contact(request: HttpRequest, contact_id: int) -> Status[None]:
    c = caller(request)
    contact = contact_of(c, contact_id)
    may_change(c, contact.workspace)
    actions.erase_contact(contact, c.user, Consent(source=ConsentSource.API, detail=f"API key {c.key.prefix}"))
    return Status(204, None)


@router.get(
    "/contacts/{contact_id}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="Everything held about a contact (GDPR access request)",
    description="The contact, its subscriptions, its consent records, suppressions of its address and "
    "the messages sent to it in the workspace.",
)
def export_contact(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    return actions.export_contact_data(contact_of(caller(request), contact_id))


@router.get(
    "/workspaces/{workspace_id}/contacts/export",
    response={200: None, **ERRORS},
    summary="The workspace's contacts as CSV (streamed)",
    description="Columns: email, name, language, time_zone, status, lists (names, `;`-separated), then "
    "`attributes.<name>`. Cells that a spreadsheet would run as a formula get a leading `'`.",
)
def export_contacts(request: HttpRequest, workspace_id: int) -> StreamingHttpResponse:
    workspace = reach_workspace(caller(request), workspace_id)
    return csv_download(actions.export_contacts_csv(workspace), f"contacts-{workspace.pk}.csv")


# --- lists -------------------------------------------------------------------------------------


class ListIn(Schema):
    name: str
    double_opt_in: bool = False
    workspace: int | None = Field(None, description=_WORKSPACE)


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
    contact_id: int | None = Field(None, description="a contact of the list's workspace …")
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


@router.post("/lists", response={201: ListOut, **ERRORS}, summary="Make a list")
def create_list(request: HttpRequest, payload: ListIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    return Status(201, _list_out(actions.create_list(workspace, payload.name, double_opt_in=payload.double_opt_in)))


@router.get("/lists", response={200: list[ListOut], **ERRORS}, summary="A workspace's lists")
def list_lists(request: HttpRequest, workspace: int | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    return [_list_out(cl) for cl in ContactList.objects.filter(workspace=ws).order_by("name", "id")]


@router.get("/lists/{list_id}", response={200: ListOut, **ERRORS}, summary="A list")
def get_list(request: HttpRequest, list_id: int) -> dict[str, Any]:
    return _list_out(list_of(caller(request), list_id))


@router.patch("/lists/{list_id}", response={200: ListOut, **ERRORS}, summary="Rename a list or change its opt-in")
def update_list(request: HttpRequest, list_id: int, payload: ListPatch) -> dict[str, Any]:
    c = caller(request)
    contact_list = list_of(c, list_id)
    may_change(c, contact_list.workspace)
    return _list_out(actions.update_list(contact_list, name=payload.name, double_opt_in=payload.double_opt_in))


@router.delete(
    "/lists/{list_id}",
    response={204: None, **ERRORS},
    summary="Delete a list and its subscriptions (the contacts stay)",
)
def delete_list(request: HttpRequest, list_id: int) -> Status[None]:
    c = caller(request)
    contact_list = list_of(c, list_id)
    may_change(c, contact_list.workspace)
    contact_list.delete()
    return Status(204, None)


@router.post(
    "/lists/{list_id}/subscribers",
    response={201: SubscriptionDetailOut, **ERRORS},
    summary="Subscribe a contact (by id or address) to a list",
    description="Subscribing again changes nothing. On a double opt-in list the subscription stays "
    "`pending` until confirmed. A `contact_id` the list's workspace does not have is a 422.",
)
def add_subscriber(request: HttpRequest, list_id: int, payload: SubscriberIn) -> Status[dict[str, Any]]:
    c = caller(request)
    contact_list = list_of(c, list_id)
    may_change(c, contact_list.workspace)
    consent = consent_from(c, payload.consent)
    if (payload.contact_id is None) == (payload.email is None):
        raise InvalidInput.one("contact_id", "give either contact_id or email")
    if payload.contact_id is not None:
        contact = Contact.objects.filter(workspace=contact_list.workspace, pk=payload.contact_id).first()
        if contact is None:
            raise InvalidInput.one("contact_id", "the list's workspace has no contact with this id")
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
)
def remove_subscriber(request: HttpRequest, list_id: int, contact_id: int) -> Status[None]:
    c = caller(request)
    contact_list = list_of(c, list_id)
    contact = Contact.objects.filter(workspace=contact_list.workspace, pk=contact_id).first()
    if contact is None:
        raise Http404("contact not found")
    may_change(c, contact_list.workspace)
    if actions.unsubscribe(contact, contact_list, consent_from(c, None)) is None:
        raise Http404("the contact is not on this list")
    return Status(204, None)


# --- suppressions ------------------------------------------------------------------------------


class SuppressionIn(Schema):
    email: str
    reason: str = Field(SuppressionReason.MANUAL, description=", ".join(SuppressionReason.values))
    workspace: int | None = Field(None, description=_WORKSPACE)


class SuppressionOut(Schema):
    email: str
    reason: str
    source: str = Field(description="api, admin, import…, or delivery for the delivery engine's own")
    detail: str
    is_global: bool = Field(alias="global", description="suppressed by the operator for all workspaces")
    created_at: datetime


def _suppression_out(s: Suppression) -> dict[str, Any]:
    return {
        "email": s.email,
        "reason": s.reason,
        "source": s.source or ("delivery" if s.source_event_id else "operator" if s.workspace_id is None else ""),
        "detail": s.detail,
        "global": s.workspace_id is None,
        "created_at": s.created_at,
    }


@router.get(
    "/suppressions",
    response={200: list[SuppressionOut], **ERRORS},
    by_alias=True,
    summary="Addresses mail is not sent to: the workspace's and the operator's (global)",
    description="Filter by `email`. At most 1,000, newest first.",
)
def list_suppressions(request: HttpRequest, workspace: int | None = None, email: str | None = None) -> Any:
    ws = workspace_of(caller(request), workspace)
    rows = Suppression.objects.filter(workspace=ws) | Suppression.objects.filter(workspace__isnull=True)
    if email:
        rows = rows.filter(email=email.strip().lower())
    return [_suppression_out(s) for s in rows.order_by("-created_at", "-id")[:1000]]


@router.post(
    "/suppressions",
    response={201: SuppressionOut, **ERRORS},
    by_alias=True,
    summary="Suppress an address in the workspace",
    description="Adding an address suppressed already keeps the first reason and answers it.",
)
def add_suppression(request: HttpRequest, payload: SuppressionIn) -> Status[dict[str, Any]]:
    c = caller(request)
    ws = workspace_of(c, payload.workspace)
    may_change(c, ws)
    suppression = suppressions.add_suppression(
        ws, payload.email, payload.reason, source=ConsentSource.API, detail=f"API key {c.key.prefix}", actor=c.user
    )
    return Status(201, _suppression_out(suppression))


class SuppressionLiftIn(Schema):
    email: str | None = Field(None, description="the address (or give it as ?email=)")
    workspace: int | None = Field(None, description=_WORKSPACE)


@router.delete(
    "/suppressions",
    response={204: None, 403: ErrorOut, **ERRORS},
    summary="Lift the workspace's suppression of an address",
    description="The address as `?email=` or in a JSON body `{\"email\"}` (not both). 404 when the "
    "workspace does not suppress it; 403 when only the operator does (global suppressions are lifted by "
    "the operator, never through the API).",
)
def remove_suppression(
    request: HttpRequest,
    email: str | None = None,
    workspace: int | None = None,
    payload: Body[SuppressionLiftIn | None] = None,
) -> Status[None]:
    if payload is not None and payload.email is not None and email is not None:
        raise InvalidInput.one("email", "give it in the query or the body, not both")
    address = email if email is not None else payload.email if payload is not None else None
    if address is None:
        raise InvalidInput.one("email", "is required: in the query (?email=) or the JSON body")
    if workspace is None and payload is not None:
        workspace = payload.workspace
    c = caller(request)
    ws = workspace_of(c, workspace)
    may_change(c, ws)
    try:
        removed = suppressions.remove_suppression(
            ws, address, source=ConsentSource.API, detail=f"API key {c.key.prefix}", actor=c.user
        )
    except GlobalSuppression as exc:
        raise Forbidden(str(exc)) from None
    if not removed:
        raise Http404("the workspace does not suppress this address")
    return Status(204, None)

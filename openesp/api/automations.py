"""Automations (scope ``campaigns``): make, list, read, change, delete, and trigger by API.

The workspace is named as for contacts (``api.scope``): ``"workspace"`` in a body, ``?workspace=``
in a query. Ids in the path answer 404 alike for missing and foreign automations; ids in a body
(template, list, contact) that the workspace does not have are a 422 naming the field. Viewers
read; they change nothing. Routes parse and authorise, then call ``campaigns.automations``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.models import Workspace
from openesp.api.auth import ApiKeyAuth, Caller, caller
from openesp.api.errors import ERRORS, Conflict, ErrorOut
from openesp.api.params import Id, one_of
from openesp.api.scope import WORKSPACE_HELP, may_change, workspace_of
from openesp.api.senders import SenderIn, SenderOut, sender_of
from openesp.audience.access import contact_named, lists_named
from openesp.audience.actions import normalise_email
from openesp.audience.queries import contacts_of
from openesp.campaigns import automations as actions
from openesp.campaigns import errors
from openesp.campaigns.access import access_automation, template_version_named
from openesp.campaigns.models import Automation, AutomationEntry, AutomationStatus, TriggerKind
from openesp.campaigns.responses import record_response
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("campaigns"), tags=["automations"])

_FROM = 'the sender: an address, or {"email", "name"} (the same sender rules as POST /api/v1/messages)'


@contextlib.contextmanager
def conflicts() -> Iterator[None]:
    """The campaign actions' ``Conflict`` (an illegal transition) as the API's 409."""
    try:
        yield
    except errors.Conflict as exc:
        raise Conflict(str(exc)) from None


class AutomationIn(Schema):
    name: str
    trigger: Annotated[str, Field(json_schema_extra=one_of(TriggerKind.values))]
    list_id: Id | None = Field(None, description="list_subscribed: the list; date_attribute: only its subscribers")
    date_attribute: str = Field("", description="date_attribute: the contact attribute holding an ISO 8601 date")
    offset_days: int = Field(
        0, ge=-actions.MAX_OFFSET_DAYS, le=actions.MAX_OFFSET_DAYS, description="-14: 14 days before the date"
    )
    delay_minutes: int = Field(0, ge=0, le=actions.MAX_DELAY_MINUTES, description="after the trigger")
    template_id: Id
    template_version: Id | None = Field(None, description="default: the template's latest version, pinned")
    from_: str | SenderIn = Field(alias="from", description=_FROM)
    reply_to: str = ""
    response_url: str = Field("", description="where the response button leads; the token is appended")
    receipt_template_id: Id | None = Field(None, description="a receipt to each respondent")
    reminder_template_id: Id | None = Field(None, description="a reminder to who has not responded")
    reminder_after_days: int | None = Field(None, ge=1, le=actions.MAX_REMINDER_DAYS)
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class AutomationPatch(Schema):
    name: str | None = None
    status: Annotated[str | None, Field(json_schema_extra=one_of([*AutomationStatus.values, None]))] = None
    trigger: Annotated[str | None, Field(json_schema_extra=one_of([*TriggerKind.values, None]))] = None
    list_id: Id | None = None
    date_attribute: str | None = None
    offset_days: int | None = Field(None, ge=-actions.MAX_OFFSET_DAYS, le=actions.MAX_OFFSET_DAYS)
    delay_minutes: int | None = Field(None, ge=0, le=actions.MAX_DELAY_MINUTES)
    template_id: Id | None = Field(None, description="pins this template's latest version (or template_version)")
    template_version: Id | None = None
    from_: str | SenderIn | None = Field(None, alias="from", description=_FROM)
    reply_to: str | None = None
    response_url: str | None = None
    receipt_template_id: Id | None = Field(None, description="null: no receipt")
    reminder_template_id: Id | None = Field(None, description="null: no reminder")
    reminder_after_days: int | None = Field(None, ge=1, le=actions.MAX_REMINDER_DAYS)


class AutomationStatsOut(Schema):
    entered: int
    waiting: int = Field(description="entered, the delay not over yet")
    sent: int
    skipped: int = Field(description="not sent: erased, not active, suppressed or no longer subscribed")
    responded: int
    reminders_sent: int
    receipts_sent: int


class AutomationOut(Schema):
    id: int
    workspace_id: int
    name: str
    status: str
    trigger: str
    list_id: int | None
    date_attribute: str
    offset_days: int
    delay_minutes: int
    template_id: int
    template_version: int
    from_: SenderOut = Field(alias="from")
    reply_to: str
    response_url: str
    receipt_template_id: int | None
    reminder_template_id: int | None
    reminder_after_days: int | None
    stats: AutomationStatsOut
    created_at: datetime
    updated_at: datetime


class TriggerIn(Schema):
    contact_id: Id | None = Field(None, description="the contact, or give its email")
    email: str | None = None
    key: str | None = Field(
        None, description="an idempotency key: the same key again for the contact is the same occurrence"
    )
    data: dict[str, Any] = Field(default_factory=dict, description="available to the template as trigger.data")


class EntryOut(Schema):
    id: int
    automation_id: int
    contact_id: int | None
    occurrence: str
    status: str
    detail: str
    data: dict[str, Any]
    triggered_at: datetime
    due_at: datetime
    sent_at: datetime | None


class AutomationResponseIn(Schema):
    token: str | None = Field(None, max_length=100, description="the recipient's token (of its /r/<token>/ link)")
    contact_id: Id | None = Field(None, description="or the contact: its latest invitation from this automation")
    data: dict[str, Any] = Field(default_factory=dict, description="anything to keep with the response")


class AutomationResponseOut(Schema):
    id: int
    automation_id: int
    entry_id: int | None
    contact_id: int | None
    email: str
    data: dict[str, Any]
    source: str = Field(description="link, api or cli")
    created_at: datetime


def automation_out(automation: Automation) -> dict[str, Any]:
    container = automation.campaign
    version = container.template_version
    receipt = container.receipt_version
    reminder = automation.reminder_version
    return {
        "id": automation.pk,
        "workspace_id": automation.workspace_id,
        "name": automation.name,
        "status": automation.status,
        "trigger": automation.trigger,
        "list_id": automation.trigger_list_id,
        "date_attribute": automation.date_attribute,
        "offset_days": automation.offset_days,
        "delay_minutes": automation.delay_minutes,
        "template_id": version.template_id,
        "template_version": version.number,
        "from": {"email": container.from_email, "name": container.from_name},
        "reply_to": container.reply_to,
        "response_url": container.response_url,
        "receipt_template_id": receipt.template_id if receipt is not None else None,
        "reminder_template_id": reminder.template_id if reminder is not None else None,
        "reminder_after_days": automation.reminder_after_days,
        "stats": actions.automation_stats(automation),
        "created_at": automation.created_at,
        "updated_at": automation.updated_at,
    }


def entry_out(entry: AutomationEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "automation_id": entry.automation_id,
        "contact_id": entry.contact_id,
        "occurrence": entry.occurrence,
        "status": entry.status,
        "detail": entry.detail,
        "data": entry.data,
        "triggered_at": entry.triggered_at,
        "due_at": entry.due_at,
        "sent_at": entry.sent_at,
    }


def _fields(c: Caller, workspace: Workspace, payload: AutomationIn | AutomationPatch) -> actions.AutomationFields:
    given = payload.model_fields_set
    fields = actions.AutomationFields(
        name=payload.name,
        trigger=payload.trigger,
        date_attribute=payload.date_attribute,
        offset_days=payload.offset_days,
        delay_minutes=payload.delay_minutes,
        reply_to=payload.reply_to,
        response_url=payload.response_url,
        reminder_after_days=payload.reminder_after_days,
    )
    fields.from_email, fields.from_name = sender_of(payload.from_)
    clear = []
    if payload.list_id is not None:
        (fields.trigger_list,) = lists_named(
            c.actor, [payload.list_id], workspace=workspace, field="list_id",
            reason="the workspace has no list with this id",
        )  # fmt: skip
    elif "list_id" in given:
        clear.append("trigger_list")
    if payload.template_id is not None:
        fields.version = template_version_named(
            c.actor, payload.template_id, payload.template_version, workspace=workspace
        )
    elif payload.template_version is not None:
        raise InvalidInput.one("template_id", "is required with template_version")
    for name, field in (("receipt_version", "receipt_template_id"), ("reminder_version", "reminder_template_id")):
        template_id = getattr(payload, field)
        if template_id is not None:
            setattr(fields, name, template_version_named(c.actor, template_id, workspace=workspace, field=field))
        elif field in given:
            clear.append(name)
    fields.clear = tuple(clear)
    return fields


@router.post(
    "/automations",
    response={201: AutomationOut, **ERRORS},
    by_alias=True,
    summary="Make an automation",
    description="A trigger (`list_subscribed` with `list_id`; `date_attribute` with `date_attribute` and "
    "`offset_days`, evaluated daily in each contact's time zone; `api`: POST …/trigger), a delay, a template "
    "(its latest version is pinned unless `template_version` names one) and a sender. Mail goes in the "
    "category `invitation_automation`, each with its own response link. Active at once.",
)
def create_automation(request: HttpRequest, payload: AutomationIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    automation = actions.create_automation(workspace, c.user, _fields(c, workspace, payload))
    return Status(201, automation_out(access_automation(c.actor, automation.pk)))


@router.get(
    "/automations",
    response={200: list[AutomationOut], **ERRORS},
    by_alias=True,
    summary="A workspace's automations, newest first",
)
def list_automations(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    return [automation_out(a) for a in actions.automations_of(ws)]


@router.get("/automations/{automation_id}", response={200: AutomationOut, **ERRORS}, by_alias=True,
            summary="An automation, with its numbers")  # fmt: skip
def get_automation(request: HttpRequest, automation_id: Id) -> dict[str, Any]:
    return automation_out(access_automation(caller(request).actor, automation_id))


@router.patch(
    "/automations/{automation_id}",
    response={200: AutomationOut, 409: ErrorOut, **ERRORS},
    by_alias=True,
    summary="Change an automation, pause it (`status: paused`) or resume it (`status: active`)",
    description="A new template applies to invitations sent from now on. A paused automation keeps "
    "recording entries and sends nothing until resumed; pausing a paused one is a 409.",
)
def update_automation(request: HttpRequest, automation_id: Id, payload: AutomationPatch) -> dict[str, Any]:
    c = caller(request)
    automation = access_automation(c.actor, automation_id)
    may_change(c, automation.workspace)
    if payload.status is not None and payload.status not in AutomationStatus.values:
        raise InvalidInput.one("status", f"must be one of {', '.join(AutomationStatus.values)}")
    fields = _fields(c, automation.workspace, payload)
    with conflicts():
        if payload.status == AutomationStatus.PAUSED:
            actions.pause_automation(automation)
        elif payload.status == AutomationStatus.ACTIVE:
            actions.resume_automation(automation)
        actions.update_automation(automation, c.user, fields)
    return automation_out(access_automation(c.actor, automation.pk))


@router.delete(
    "/automations/{automation_id}",
    response={204: None, 409: ErrorOut, **ERRORS},
    summary="Delete an automation: its queued mail is cancelled; sent messages stay in the log",
)
def delete_automation(request: HttpRequest, automation_id: Id) -> Status[None]:
    c = caller(request)
    automation = access_automation(c.actor, automation_id)
    may_change(c, automation.workspace)
    with conflicts():
        actions.delete_automation(automation)
    return Status(204, None)


@router.post(
    "/automations/{automation_id}/trigger",
    response={200: EntryOut, 201: EntryOut, 409: ErrorOut, **ERRORS},
    summary="Let a contact enter an automation whose trigger is `api`",
    description="`contact_id` or `email` (a contact of the workspace). 201 with the new entry; with a `key` "
    "already used for this contact, 200 with the first entry and nothing new. 409 when the automation is not "
    "triggered by the API. The invitation is sent after the automation's delay; `data` is the template's "
    "`trigger.data`.",
)
def trigger(request: HttpRequest, automation_id: Id, payload: TriggerIn) -> Status[dict[str, Any]]:
    c = caller(request)
    automation = access_automation(c.actor, automation_id)
    may_change(c, automation.workspace)
    workspace = automation.workspace
    if (payload.contact_id is None) == (payload.email is None):
        raise InvalidInput.one("contact_id", "give contact_id or email (one of them)")
    if payload.contact_id is not None:
        contact = contact_named(c.actor, payload.contact_id, workspace=workspace)
    else:
        _address, key = normalise_email(payload.email, "email")
        found = contacts_of(workspace).filter(email_key=key).first()
        if found is None:
            raise InvalidInput.one("email", "the workspace has no contact with this address")
        contact = found
    with conflicts():
        entry, created = actions.trigger_automation(automation, contact, key=payload.key, data=payload.data)
    return Status(201 if created else 200, entry_out(entry))


@router.post(
    "/automations/{automation_id}/responses",
    response={200: AutomationResponseOut, 201: AutomationResponseOut, **ERRORS},
    summary="Record the response to an automation invitation (once)",
    description='`{"token"}` (from the recipient\'s link) or `{"contact_id"}` (its latest invitation from this '
    "automation), with an optional `data` object. 201 the first time, which also queues the receipt when the "
    "automation has one; a repeat answers 200 with the first response and changes nothing. 422 names `token` or "
    "`contact_id` when it is no recipient of this automation.",
)
def respond(request: HttpRequest, automation_id: Id, payload: AutomationResponseIn) -> Status[dict[str, Any]]:
    c = caller(request)
    automation = access_automation(c.actor, automation_id)
    may_change(c, automation.workspace)
    if (payload.token is None) == (payload.contact_id is None):
        raise InvalidInput.one("token", "give the recipient's token or its contact_id (one of them)")
    recipient = actions.recipient_for(automation, token=payload.token, contact_id=payload.contact_id)
    if recipient is None:
        field = "token" if payload.token is not None else "contact_id"
        raise InvalidInput.one(field, "names no recipient of this automation")
    response, created = record_response(recipient, data=payload.data, source="api")
    return Status(
        201 if created else 200,
        {
            "id": response.pk,
            "automation_id": automation.pk,
            "entry_id": recipient.entry_id,
            "contact_id": recipient.contact_id,
            "email": recipient.email,
            "data": response.data,
            "source": response.source,
            "created_at": response.created_at,
        },
    )

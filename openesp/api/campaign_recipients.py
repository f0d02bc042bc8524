"""A campaign's people (scope ``campaigns``): its recipients, their responses, and reminders.

- ``GET /campaigns/{id}/recipients`` pages as ``GET /contacts`` does (``limit``, ``cursor``,
  oldest first), optionally only those who did (``responded=true``) or did not respond.
- ``POST /campaigns/{id}/responses`` records a recipient's response, named by its token or its
  contact: 201 the first time, 200 with that first response for a repeat.
- ``POST /campaigns/{id}/reminders`` sends a reminder now, or schedules it; ``GET`` lists them.

A token or contact id in a body that names no recipient of the campaign is a 422 naming the
field; the campaign in the path answers 404 alike for missing and foreign ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import require_editor
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.params import MAX_ID, MAX_PAGE, Id, PageLimit, one_of
from openesp.api.templates import CAMPAIGN_REFUSAL, VersionNumber
from openesp.campaigns.access import access_campaign, template_version_named
from openesp.campaigns.campaigns import PAST_GRACE, local_send_at
from openesp.campaigns.models import Campaign, Reminder, Response
from openesp.campaigns.reach import recipients_of
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.responses import recipient_for_contact, recipient_for_token, record_response
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Category
from openesp.messaging.models import Status as MessageStatus

router = Router(auth=ApiKeyAuth("campaigns"), tags=["campaigns"])

MAX_AFTER_DAYS = 365


class RecipientOut(Schema):
    contact_id: int | None = Field(description="null once the contact has been erased")
    email: str
    status: str | None = Field(
        description=f"the invitation's status ({', '.join(MessageStatus.values)}); null before it is queued"
    )
    responded_at: datetime | None


class RecipientPageOut(Schema):
    items: list[RecipientOut] = Field(description="oldest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class ResponseIn(Schema):
    token: str | None = Field(None, max_length=100, description="the recipient's token (of its /r/<token>/ link)")
    contact_id: Id | None = Field(None, description="or the recipient's contact")
    data: dict[str, Any] = Field(default_factory=dict, description="anything to keep with the response")


class ResponseOut(Schema):
    id: int
    campaign_id: int
    contact_id: int | None
    email: str
    data: dict[str, Any]
    source: str = Field(description="link, api or cli")
    created_at: datetime


class ReminderIn(Schema):
    template_id: Id
    template_version: VersionNumber | None = Field(None, description="omitted: the latest")
    send_at: datetime | None = Field(
        None, description="a local date and time in time_zone, e.g. 2026-12-27T09:00", examples=["2026-12-27T09:00"]
    )
    time_zone: str = Field("", max_length=64, description="an IANA zone, e.g. Europe/Stockholm")
    after_days: int | None = Field(
        None, ge=0, le=MAX_AFTER_DAYS, description="or: this many days after the campaign started"
    )


class ReminderOut(Schema):
    id: int
    campaign_id: int
    template_id: int
    template_version: int
    category: str = Field(json_schema_extra=one_of([Category.REMINDER, Category.REMINDER_SCHEDULED]))
    send_at: datetime | None = Field(description="when a scheduled reminder goes (UTC), if given as a time")
    time_zone: str
    after_days: int | None
    status: str = Field(json_schema_extra=one_of(["scheduled", "sent", "cancelled"]))
    sent: int = Field(description="reminders queued: the recipients who had not responded, then")
    created_at: datetime
    sent_at: datetime | None


def _campaign(request: HttpRequest, campaign_id: int, *, change: bool) -> Campaign:
    c = caller(request)
    campaign = access_campaign(c.actor, campaign_id)
    if change:
        require_editor(c.actor, campaign.workspace, CAMPAIGN_REFUSAL)
    return campaign


@router.get(
    "/campaigns/{campaign_id}/recipients",
    response={200: RecipientPageOut, **ERRORS},
    summary="A campaign's recipients, a page at a time",
    description="The audience frozen when the campaign started, each with its invitation's status. "
    f"`responded=true` or `false` narrows to those who did or did not respond. Pages hold `limit` "
    f"recipients (default 50, at most {MAX_PAGE}); follow `next_cursor` until it is null.",
)
def list_recipients(
    request: HttpRequest,
    campaign_id: Id,
    responded: bool | None = None,
    limit: PageLimit = 50,
    # Checked below, to answer with the reason; stated here for clients.
    cursor: Annotated[str | None, Field(json_schema_extra={"pattern": "^[0-9]{0,19}$"})] = None,
) -> dict[str, Any]:
    recipients = recipients_of(_campaign(request, campaign_id, change=False), responded)
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_ID:
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        recipients = recipients.filter(id__gt=int(cursor))
    page = list(recipients.order_by("id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    items = [
        {
            "contact_id": r.contact_id,
            "email": r.email,
            "status": r.invitation_status,  # type: ignore[attr-defined]  # annotated by recipients_of
            "responded_at": r.responded_at,
        }
        for r in page
    ]
    return {"items": items, "next_cursor": str(page[-1].pk) if more else None}


def response_out(response: Response) -> dict[str, Any]:
    recipient = response.recipient
    return {
        "id": response.pk,
        "campaign_id": response.campaign_id,
        "contact_id": recipient.contact_id,
        "email": recipient.email,
        "data": response.data,
        "source": response.source,
        "created_at": response.created_at,
    }


@router.post(
    "/campaigns/{campaign_id}/responses",
    response={200: ResponseOut, 201: ResponseOut, **ERRORS},
    summary="Record a recipient's response (once)",
    description='`{"token"}` (from the recipient\'s link) or `{"contact_id"}`, with an optional `data` object. '
    "201 the first time, which also queues the receipt when the campaign has one; a repeat answers 200 with "
    "the first response (its `id`, its `data`) and changes nothing. 422 names `token` or `contact_id` when it "
    "is no recipient of this campaign.",
)
def respond(request: HttpRequest, campaign_id: Id, payload: ResponseIn) -> Status[dict[str, Any]]:
    campaign = _campaign(request, campaign_id, change=True)
    if (payload.token is None) == (payload.contact_id is None):
        raise InvalidInput.one("token", "give the recipient's token or its contact_id (one of them)")
    if payload.token is not None:
        try:
            recipient = recipient_for_token(payload.token.strip())
        except Http404:
            recipient = None
        if recipient is None or recipient.campaign_id != campaign.pk:
            raise InvalidInput.one("token", "is not a response token of this campaign")
    else:
        try:
            recipient = recipient_for_contact(campaign, payload.contact_id)
        except Http404:
            raise InvalidInput.one("contact_id", "the contact is not a recipient of this campaign") from None
    response, created = record_response(recipient, data=payload.data, source="api")
    return Status(201 if created else 200, response_out(response))


def reminder_out(reminder: Reminder) -> dict[str, Any]:
    version = reminder.version
    return {
        "id": reminder.pk,
        "campaign_id": reminder.campaign_id,
        "template_id": version.template_id,
        "template_version": version.number,
        "category": Category.REMINDER if reminder.manual else Category.REMINDER_SCHEDULED,
        # UTC, as every time the API answers with (a reminder just made holds the local time given).
        "send_at": reminder.send_at.astimezone(UTC) if reminder.send_at else None,
        "time_zone": reminder.time_zone,
        "after_days": reminder.after_days,
        "status": reminder.status,
        "sent": reminder.sent,
        "created_at": reminder.created_at,
        "sent_at": reminder.sent_at,
    }


@router.post(
    "/campaigns/{campaign_id}/reminders",
    response={201: ReminderOut, 409: ErrorOut, **ERRORS},
    summary="Remind the recipients who have not responded: now, at a time, or N days after the start",
    description="No `send_at` and no `after_days`: sent now (category `reminder`; 409 until the campaign has "
    "started). With `send_at` (a local time in `time_zone`) or `after_days`: scheduled (category "
    "`reminder_scheduled`). Either way it goes, when it is sent, to each recipient who has not responded and "
    "is neither suppressed nor unsubscribed, never twice. 409 for a draft or cancelled campaign.",
)
def remind(request: HttpRequest, campaign_id: Id, payload: ReminderIn) -> Status[dict[str, Any]]:
    c = caller(request)
    campaign = _campaign(request, campaign_id, change=True)
    version = template_version_named(
        c.actor,
        payload.template_id,
        payload.template_version,
        workspace=campaign.workspace,
        field="template_id",
        version_field="template_version",
    )
    time_zone = payload.time_zone.strip()
    if payload.send_at is not None:
        if payload.send_at.tzinfo is None and not time_zone:
            raise InvalidInput.one("time_zone", "is required with send_at")
        if local_send_at(payload.send_at, time_zone or "UTC") < timezone.now() - PAST_GRACE:
            raise InvalidInput.one("send_at", "is in the past")
    reminder = create_reminder(
        campaign,
        c.user,
        version=version,
        send_at=payload.send_at,
        time_zone=time_zone,
        after_days=payload.after_days,
    )
    return Status(201, reminder_out(reminder))


@router.get(
    "/campaigns/{campaign_id}/reminders",
    response={200: list[ReminderOut], **ERRORS},
    summary="A campaign's reminders, newest first",
)
def list_reminders(request: HttpRequest, campaign_id: Id) -> list[dict[str, Any]]:
    campaign = _campaign(request, campaign_id, change=False)
    return [reminder_out(r) for r in campaign.reminders.select_related("version").order_by("-id")]

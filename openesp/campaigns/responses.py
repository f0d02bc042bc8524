"""Responses and receipts: a recipient answers once; a receipt goes out exactly once per response.

``record_response`` inserts the ``Response`` (one per recipient: a unique constraint), an event
``responded`` on each of the recipient's messages, and, when the campaign names a receipt
template, the receipt (category ``response_receipt``), all in one transaction. A repeat — a
second click, a retried API call, two requests at once — gets the first response back and
queues nothing; a worker that dies mid-way rolls back the response and its receipt together.
A recipient who responds (by the API or the CLI) before their chunk of invitations is queued
gets their invitation queued at once (``invitations.invite_early``), as it would have been had
the whole audience been queued at the start: the ``responded`` event is on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from openesp.campaigns.invitations import invite_early
from openesp.campaigns.models import Campaign, CampaignMessage, Purpose, Recipient, Response
from openesp.campaigns.queueing import queue_messages
from openesp.campaigns.tokens import InvalidToken, recipient_id_for
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Category, Event, EventType

SOURCES = ("link", "api", "cli")


def record_response(
    recipient: Recipient, *, data: dict[str, Any] | None = None, source: str = "api", now: datetime | None = None
) -> tuple[Response, bool]:
    """``(response, created)``: the recipient's response, recorded now unless it exists."""
    assert source in SOURCES
    now = now or timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                response = Response.objects.create(
                    recipient=recipient, campaign_id=recipient.campaign_id, data=dict(data or {}), source=source,
                    created_at=now,
                )  # fmt: skip
        except IntegrityError:
            return Response.objects.get(recipient=recipient), False
        Recipient.objects.filter(pk=recipient.pk).update(responded_at=now)
        recipient.responded_at = now
        invite_early(recipient, now)  # the response is linked to the invitation, as to every message
        message_ids = CampaignMessage.objects.filter(recipient=recipient).values_list("message_id", flat=True)
        add_events(
            Event(message_id=pk, type=EventType.RESPONDED, created_at=now, data={"response": response.pk})
            for pk in message_ids
        )
        campaign = Campaign.objects.select_related("workspace__organization", "receipt_version").get(
            pk=recipient.campaign_id
        )
        if campaign.receipt_version is not None and recipient.contact_id is not None:
            queue_messages(
                campaign,
                Recipient.objects.filter(pk=recipient.pk),
                purpose=Purpose.RECEIPT,
                version=campaign.receipt_version,
                category=Category.RESPONSE_RECEIPT,
                now=now,
                link={"response_id": response.pk},
            )
    return response, True


def recipient_for_token(token: str) -> Recipient:
    """The recipient a response link names; Http404 for anything else (alike for forged, unknown
    and deleted), as the hosted page and the API answer."""
    try:
        return Recipient.objects.select_related("campaign").get(pk=recipient_id_for(token))
    except (InvalidToken, Recipient.DoesNotExist):
        raise Http404("recipient not found") from None


def recipient_for_contact(campaign: Campaign, contact_id: Any) -> Recipient:
    """The campaign's recipient for a contact (the caller reached the campaign through the tenant)."""
    try:
        return Recipient.objects.get(campaign=campaign, contact_id=int(contact_id))
    except (Recipient.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("recipient not found") from None

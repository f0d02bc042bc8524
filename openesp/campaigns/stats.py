"""A campaign's numbers, and its sends and responses over time, read from what happened.

Nothing here is a counter kept on the side: every figure is counted from the rows that prove it
(the recipients frozen at start, the campaign's message links, the messages' statuses and their
events), so a figure can never disagree with the messages the API and pages show. The counts
are grouped queries over the campaign's own links (indexed by campaign), a few per call.

- ``audience`` is the number of eligible recipients frozen at start; ``excluded`` the contacts
  left out, by reason; ``erased`` counts recipients whose contact was erased after the freeze.
- ``queued`` invitations not sent yet (queued, deferred or being sent), and the recipients whose
  invitation is not queued yet (``campaigns.invitations`` queues them in chunks); ``cancelled``
  invitations taken off the queue, and, once the campaign is cancelled, the recipients it never
  invited; ``sent`` invitations
  handed to the provider (a ``sent`` event); ``delivered`` and ``bounced`` invitations with
  such an event.
- ``opened``, ``clicked``, ``unsubscribed`` and ``complained`` count recipients (not messages)
  with such an event on any mail of the campaign — the invitation or a reminder.
- ``responded`` counts recipients who responded; ``reminders_sent`` and ``receipts_sent`` the
  reminder and receipt mails handed to the provider; ``unconfirmed`` the reminder and receipt
  mails whose worker stopped while sending them — whether they arrived is unknown, and they are
  not sent again so that nobody gets one twice (decision 018).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour

from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, Purpose, Recipient, Response
from openesp.messaging.models import DUE_STATUSES, Event, EventType, Message, Status

ENGAGEMENT = (EventType.OPENED, EventType.CLICKED, EventType.UNSUBSCRIBED, EventType.COMPLAINED)


def _links(campaign: Campaign, purpose: str | None = None) -> QuerySet[CampaignMessage]:
    links = CampaignMessage.objects.filter(campaign_id=campaign.pk)
    return links.filter(purpose=purpose) if purpose else links


def _messages_with(campaign: Campaign, purpose: str, types: tuple[str, ...]) -> dict[str, int]:
    """Per event type, how many of the campaign's messages of this purpose have one."""
    rows = (
        Event.objects.filter(message_id__in=_links(campaign, purpose).values("message_id"), type__in=types)
        .values("type")
        .annotate(n=Count("message_id", distinct=True))
    )
    found = {row["type"]: row["n"] for row in rows}
    return {kind: found.get(kind, 0) for kind in types}


def _recipients_with(campaign: Campaign, types: tuple[str, ...]) -> dict[str, int]:
    """Per event type, how many recipients have one on any mail of the campaign."""
    rows = (
        Event.objects.filter(message__campaign_link__campaign_id=campaign.pk, type__in=types)
        .values("type")
        .annotate(n=Count("message__campaign_link__recipient_id", distinct=True))
    )
    found = {row["type"]: row["n"] for row in rows}
    return {kind: found.get(kind, 0) for kind in types}


def campaign_stats(campaign: Campaign) -> dict[str, Any]:
    """The numbers of the API's ``stats`` object and of the campaign page."""
    invitations = _messages_with(campaign, Purpose.INVITATION, (EventType.SENT, EventType.DELIVERED, EventType.BOUNCED))
    engagement = _recipients_with(campaign, ENGAGEMENT)
    invitation_ids = _links(campaign, Purpose.INVITATION).values("message_id")
    queued = Message.objects.filter(id__in=invitation_ids, status__in=[*DUE_STATUSES, Status.SENDING]).count()
    cancelled = Message.objects.filter(id__in=invitation_ids, status=Status.CANCELLED).count()
    # Recipients whose chunk of invitations is not queued yet (``campaigns.invitations``) are
    # queued to the user, who sees the whole audience on its way; cancelled with the campaign.
    if campaign.status == CampaignStatus.CANCELLED:
        cancelled += campaign.uninvited
    else:
        queued += campaign.uninvited
    return {
        "audience": campaign.audience,
        "excluded": {
            "suppressed": campaign.excluded_suppressed,
            "unsubscribed": campaign.excluded_unsubscribed,
            "not_subscribed": campaign.excluded_not_subscribed,
            "erased": Recipient.objects.filter(campaign_id=campaign.pk, contact__isnull=True).count(),
        },
        "queued": queued,
        "cancelled": cancelled,
        "sent": invitations[EventType.SENT],
        "delivered": invitations[EventType.DELIVERED],
        "bounced": invitations[EventType.BOUNCED],
        "opened": engagement[EventType.OPENED],
        "clicked": engagement[EventType.CLICKED],
        "responded": Recipient.objects.filter(campaign_id=campaign.pk, responded_at__isnull=False).count(),
        "unsubscribed": engagement[EventType.UNSUBSCRIBED],
        "complained": engagement[EventType.COMPLAINED],
        "reminders_sent": _messages_with(campaign, Purpose.REMINDER, (EventType.SENT,))[EventType.SENT],
        "receipts_sent": _messages_with(campaign, Purpose.RECEIPT, (EventType.SENT,))[EventType.SENT],
        "unconfirmed": Message.objects.filter(
            id__in=_links(campaign).exclude(purpose=Purpose.INVITATION).values("message_id"),
            status=Status.UNCONFIRMED,
        ).count(),
    }


def campaign_timeline(campaign: Campaign) -> dict[str, Any]:
    """Invitations and reminders sent, and responses, per hour (per day when the campaign spans
    more than three days): ``{"unit": "hour"|"day", "points": [{"at", "sent", "responded"}]}``,
    oldest first, only periods with something in them."""
    sent = Event.objects.filter(
        message_id__in=_links(campaign).exclude(purpose=Purpose.RECEIPT).values("message_id"), type=EventType.SENT
    )
    responses = Response.objects.filter(campaign_id=campaign.pk)
    first = min((t for t in (_first(sent), _first(responses)) if t is not None), default=None)
    last = max((t for t in (_last(sent), _last(responses)) if t is not None), default=None)
    unit = "day" if first and last and last - first > timedelta(days=3) else "hour"
    trunc = TruncDay if unit == "day" else TruncHour
    points: dict[datetime, dict[str, Any]] = {}
    for key, source in (("sent", sent), ("responded", responses)):
        rows = source.annotate(at=trunc("created_at")).values("at").annotate(n=Count("id")).order_by()
        for row in rows:
            point = points.setdefault(row["at"], {"at": row["at"].isoformat(), "sent": 0, "responded": 0})
            point[key] += row["n"]
    return {"unit": unit, "points": [points[at] for at in sorted(points)]}


def _first(rows: QuerySet[Any]) -> datetime | None:
    return rows.order_by("created_at").values_list("created_at", flat=True).first()


def _last(rows: QuerySet[Any]) -> datetime | None:
    return rows.order_by("-created_at").values_list("created_at", flat=True).first()

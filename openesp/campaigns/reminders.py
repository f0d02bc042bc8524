"""Reminders: a template version sent to the recipients who have not responded.

Manual reminders (category ``reminder``) are sent at once; scheduled ones (category
``reminder_scheduled``) when ``send_at`` is reached or ``after_days`` after the campaign
started, by ``scheduling.run_due``. At the moment a reminder is sent, it goes to every recipient
whose invitation is queued (a sending campaign's last chunks are queued first), who has not
responded, whose contact still exists and is active, and whose address no suppression names.
Sending is claimed by a conditional UPDATE (``scheduled → sent``) in the transaction that queues
the messages, and a unique constraint allows one message per recipient per reminder: never
twice, also when workers race or die.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from openesp.accounts.models import User
from openesp.audience.models import ContactStatus, Suppression
from openesp.campaigns.campaigns import local_send_at
from openesp.campaigns.errors import Conflict
from openesp.campaigns.invitations import invite_all
from openesp.campaigns.models import (
    Campaign,
    CampaignStatus,
    Purpose,
    Recipient,
    Reminder,
    ReminderStatus,
    TemplateVersion,
)
from openesp.campaigns.queueing import queue_messages
from openesp.campaigns.templates import campaign_template_problems
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Category

REMINDABLE = (CampaignStatus.SENDING, CampaignStatus.SENT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED)


def not_responded(campaign: Campaign) -> QuerySet[Recipient]:
    """Who a reminder of ``campaign`` goes to now."""
    suppressed = Suppression.objects.filter(
        Q(workspace_id=campaign.workspace_id) | Q(workspace__isnull=True), email=OuterRef("contact__email_key")
    )
    return Recipient.objects.filter(
        campaign=campaign, responded_at__isnull=True, contact__isnull=False, contact__status=ContactStatus.ACTIVE
    ).exclude(Exists(suppressed))


def create_reminder(
    campaign: Campaign,
    actor: User | None,
    *,
    version: TemplateVersion,
    send_at: datetime | None = None,
    time_zone: str = "",
    after_days: int | None = None,
    now: datetime | None = None,
) -> Reminder:
    """A reminder; with neither ``send_at`` nor ``after_days`` it is manual and sent now."""
    now = now or timezone.now()
    if version.template.workspace_id != campaign.workspace_id:
        raise ValueError("the reminder's template belongs to the campaign's workspace")
    if problems := campaign_template_problems(("template_id", version)):
        raise InvalidInput(problems)
    if send_at is not None and after_days is not None:
        raise InvalidInput.one("after_days", "give send_at or after_days, not both")
    if after_days is not None and not 0 <= after_days <= 365:
        raise InvalidInput.one("after_days", "must be between 0 and 365")
    when = local_send_at(send_at, time_zone or "UTC") if send_at is not None else None
    if campaign.status not in REMINDABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be reminded")
    manual = send_at is None and after_days is None
    if manual and campaign.started_at is None:
        raise Conflict("the campaign has not started: there is nobody to remind yet")
    reminder = Reminder.objects.create(
        campaign=campaign, version=version, manual=manual, send_at=when, time_zone=time_zone if when else "",
        after_days=after_days, created_by=actor, created_at=now,
    )  # fmt: skip
    if manual:
        send_reminder(reminder.pk, now)
        reminder.refresh_from_db()
    return reminder


def due_at(reminder: Reminder) -> datetime | None:
    if reminder.send_at is not None:
        return reminder.send_at
    if reminder.after_days is not None and reminder.campaign.started_at is not None:
        return reminder.campaign.started_at + timedelta(days=reminder.after_days)
    return None


def send_reminder(reminder_id: int, now: datetime) -> bool:
    """Queue the reminder to who has not responded; False if it was sent (or cancelled) already."""
    with transaction.atomic():
        claimed = Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.SCHEDULED).update(
            status=ReminderStatus.SENT, sent_at=now
        )
        if not claimed:
            return False
        reminder = Reminder.objects.select_related("campaign__workspace__organization", "version").get(pk=reminder_id)
        campaign = reminder.campaign
        # A reminder follows the invitation: a sending campaign's invitations still to queue
        # are queued first, before its reminders; a paused one's wait for the resume, and
        # those recipients, not invited yet, get no reminder of this one.
        invite_all(campaign, now)
        recipients = not_responded(campaign)
        if campaign.uninvited:
            recipients = recipients.filter(pk__lte=campaign.invited_through)
        count = queue_messages(
            campaign,
            recipients,
            purpose=Purpose.REMINDER,
            version=reminder.version,
            category=Category.REMINDER if reminder.manual else Category.REMINDER_SCHEDULED,
            now=now,
            link={"reminder_id": reminder.pk},
        )
        Reminder.objects.filter(pk=reminder_id).update(sent=count)
    return True


def due_reminders(now: datetime, limit: int) -> list[int]:
    """Scheduled reminders due at ``now`` of campaigns that have started and are not paused."""
    rows = Reminder.objects.filter(
        status=ReminderStatus.SCHEDULED, campaign__status__in=[CampaignStatus.SENDING, CampaignStatus.SENT]
    ).select_related("campaign")
    due = [r for r in rows.order_by("id")[: limit * 10] if (at := due_at(r)) is not None and at <= now]
    return [r.pk for r in due[:limit]]

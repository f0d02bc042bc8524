"""Durable scheduling: what is due lives in the database, and ``run_due(now)`` does it.

The delivery workers (``openesp worker`` and the one inside ``openesp serve``) call ``run_due``
between batches. Every job is claimed by a conditional UPDATE in the transaction that does the
work: a campaign moves ``scheduled → sending`` only if it still is ``scheduled``, so when two
workers race, PostgreSQL makes the second wait for the first's row lock and then finds nothing
to change (SQLite lets one writer in at a time). A worker that dies mid-way rolls its
transaction back and the job stays due: nothing runs twice, nothing is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from openesp.campaigns import automation_jobs
from openesp.campaigns.category_messages import due_category_messages, start_category_message
from openesp.campaigns.invitations import chunk_size, due_refills, queue_invitations, refill
from openesp.campaigns.models import Campaign, CampaignKind, CampaignMessage, CampaignStatus, Purpose
from openesp.campaigns.queueing import bulk_settings, large_cache
from openesp.campaigns.recipients import freeze_audience
from openesp.campaigns.reminders import due_reminders, send_reminder
from openesp.messaging.models import DUE_STATUSES, Message, Status

log = logging.getLogger("openesp.campaigns")
BATCH = 20  # jobs of one kind per call: a call stays short, the next call takes the rest


@dataclass
class Ran:
    """What one ``run_due`` call did, by id."""

    started: list[int] = field(default_factory=list)
    invited: int = 0  # invitations queued by refills (the first chunk comes with the start)
    finished: list[int] = field(default_factory=list)
    reminders: list[int] = field(default_factory=list)
    category_messages: list[int] = field(default_factory=list)  # container campaign ids started
    entered: int = 0  # automation entries made by the subscription and date triggers
    entries_sent: int = 0  # automation invitations queued
    automation_reminders: int = 0  # automation reminders queued

    def __bool__(self) -> bool:
        return bool(
            self.started or self.invited or self.finished or self.reminders or self.category_messages or self.entered
            or self.entries_sent or self.automation_reminders
        )  # fmt: skip


def start_campaign(campaign_id: int, now: datetime) -> bool:
    """Start a due campaign: freeze its whole audience and queue the first chunk of its
    invitations (the rest follow as delivery drains them: ``campaigns.invitations``), in one
    transaction with the claim. False when it was not due (or another worker started it)."""
    with large_cache(), transaction.atomic():
        claimed = Campaign.objects.filter(
            pk=campaign_id, kind=CampaignKind.CAMPAIGN, status=CampaignStatus.SCHEDULED, send_at__lte=now
        ).update(status=CampaignStatus.SENDING, started_at=now, updated_at=now)
        if not claimed:
            return False
        campaign = Campaign.objects.select_related(
            "workspace__organization", "segment__workspace", "template_version"
        ).get(pk=campaign_id)
        bulk_settings()
        freeze_audience(campaign, now)
        queue_invitations(campaign, now, chunk_size())
    return True


def finish_campaign(campaign_id: int, now: datetime) -> bool:
    """``sending → sent`` once every invitation is queued and none is queued, deferred or being
    sent any more."""
    if Campaign.objects.filter(pk=campaign_id, uninvited__gt=0).exists():
        return False
    pending = Message.objects.filter(
        id__in=CampaignMessage.objects.filter(campaign_id=campaign_id, purpose=Purpose.INVITATION).values("message_id"),
        status__in=[*DUE_STATUSES, Status.SENDING],
    )
    with transaction.atomic():
        if pending.exists():
            return False
        return bool(
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING, uninvited=0).update(
                status=CampaignStatus.SENT, finished_at=now, updated_at=now
            )
        )


def _run_automations(now: datetime, ran: Ran) -> None:
    """The automation jobs (``automation_jobs``): enter new subscribers and reached dates, send
    entries past their delay, send due automation reminders."""
    jobs = (
        ("subscriptions", automation_jobs.enter_subscribers, "entered"),
        ("dates", automation_jobs.enter_dates, "entered"),
        ("entries", automation_jobs.send_due_entries, "entries_sent"),
        ("reminders", automation_jobs.send_due_reminders, "automation_reminders"),
    )
    for kind, job, counter in jobs:
        # Each job's list is read when it runs: an entry made by a trigger with no delay is sent
        # in the same call.
        for automation_id in automation_jobs.automations_due(kind, now, BATCH):
            try:
                setattr(ran, counter, getattr(ran, counter) + job(automation_id, now))
            except Exception:  # one broken automation must not stop the others; it stays due
                log.exception("automation %s: %s failed", automation_id, kind)


def run_due(now: datetime | None = None) -> Ran:
    """Do what is due at ``now``: start scheduled campaigns and category messages, queue the
    next chunk of invitations of sending campaigns whose queue runs low, send due
    reminders, run the automations, mark finished campaigns sent. Safe to call from every
    worker at once."""
    now = now or timezone.now()
    ran = Ran()
    due = Campaign.objects.filter(kind=CampaignKind.CAMPAIGN, status=CampaignStatus.SCHEDULED, send_at__lte=now)
    due = due.order_by("send_at", "id")
    for campaign_id in list(due.values_list("id", flat=True)[:BATCH]):
        try:
            if start_campaign(campaign_id, now):
                ran.started.append(campaign_id)
        except Exception:  # one broken campaign must not stop the others; it stays due
            log.exception("starting campaign %s failed", campaign_id)
    for campaign_id in due_refills(BATCH):
        try:
            ran.invited += refill(campaign_id, now)
        except Exception:  # its cursor did not move: the next run queues the chunk
            log.exception("queueing invitations of campaign %s failed", campaign_id)
    for reminder_id in due_reminders(now, BATCH):
        try:
            if send_reminder(reminder_id, now):
                ran.reminders.append(reminder_id)
        except Exception:  # it stays due
            log.exception("sending reminder %s failed", reminder_id)
    for campaign_id in due_category_messages(now, BATCH):
        try:
            if start_category_message(campaign_id, now):
                ran.category_messages.append(campaign_id)
        except Exception:  # it stays due
            log.exception("starting category message %s failed", campaign_id)
    _run_automations(now, ran)
    # An automation's container stays "sending" while the automation lives: never finished.
    sending = Campaign.objects.filter(status=CampaignStatus.SENDING).exclude(kind=CampaignKind.AUTOMATION)
    sending = sending.order_by("started_at", "id")
    for campaign_id in list(sending.values_list("id", flat=True)[:BATCH]):
        if finish_campaign(campaign_id, now):
            ran.finished.append(campaign_id)
    return ran

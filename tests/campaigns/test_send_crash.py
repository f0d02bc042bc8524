"""A campaign survives worker processes killed with SIGKILL: real ``openesp worker`` processes,
a real SMTP sink on loopback, and three kills.

The workers run the scheduler themselves (the campaign starts, the scheduled reminder goes, the
campaign is marked sent). Two kills land while invitations are sent, the third while reminders
and receipts are. Afterwards every eligible recipient has exactly one invitation, reminders
went exactly to those who did not respond, receipts exactly to those who did, each queued once
(one message row each); an invitation arrives twice only if it was in the batch a killed worker
held, a reminder or receipt never (decision 018: one the killed worker was sending is left
``unconfirmed`` instead, and ``test_send_once_crash.py`` kills workers three times during them).
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from django.db import connection

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import (
    Campaign,
    CampaignMessage,
    CampaignStatus,
    Purpose,
    Recipient,
    Reminder,
    ReminderStatus,
)
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.responses import record_response
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Category, Message, Status
from tests.campaigns.sending import delivered, make_audience, make_campaign, per_address
from tests.delivery.test_crash import BATCH, _start_worker
from tests.processes import HANG, Processes, wait_until

CONTACTS = 1200


def _owner() -> tuple[User, Workspace]:
    alice = User.objects.create_user("alice@example.org", "x" * 12, email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    return alice, Workspace.objects.create(organization=org, name="W")


def _kill_and_restart(processes: Processes, workers: list, port: int) -> None:
    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=HANG)
    workers[0] = _start_worker(processes, port)


@pytest.mark.django_db(transaction=True)
def test_a_campaign_loses_and_repeats_nothing_when_workers_are_killed(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    alice, workspace = _owner()
    audience = make_audience(workspace, CONTACTS)
    receipt = create_template(workspace, name="Receipt", subject="Thanks, {{ contact.name }}", text="Noted.")
    campaign = make_campaign(workspace, alice, audience, receipt=receipt)
    schedule_campaign(campaign)  # now: the workers' scheduler starts it
    # Two workers on PostgreSQL, sharing the queue and the scheduler; on SQLite one writer at a time, so one.
    workers = [_start_worker(processes, sink.port) for _ in range(2 if connection.vendor == "postgresql" else 1)]
    try:
        for kill in range(2):
            target = len(sink.messages) + 300
            wait_until(lambda t=target: len(sink.messages) >= t, f"invitations before kill {kill + 1}")
            _kill_and_restart(processes, workers, sink.port)
        wait_until(lambda: Recipient.objects.filter(campaign=campaign).exists(), "the campaign to start")
        wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT, "campaign sent")

        recipients = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
        responders = recipients[::3]
        for recipient in responders:  # about a third respond; each response queues a receipt
            record_response(recipient, source="api")
        reminder = create_reminder(campaign, alice, version=campaign.template_version, after_days=0)
        target = len(sink.messages) + 150
        wait_until(lambda: len(sink.messages) >= target, "reminders and receipts before kill 3")
        _kill_and_restart(processes, workers, sink.port)
        wait_until(
            lambda: Reminder.objects.get(pk=reminder.pk).status == ReminderStatus.SENT, "the reminder to be queued"
        )
        due = Message.objects.filter(status__in=[Status.QUEUED, Status.DEFERRED, Status.SENDING])
        wait_until(lambda: not due.exists(), "every message to be sent")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=HANG)

    mails = delivered(sink)
    eligible = audience.eligible
    answered = {r.email for r in responders}
    invitations = per_address(mails, Category.INVITATION)
    reminders = per_address(mails, Category.REMINDER_SCHEDULED)
    receipts = per_address(mails, Category.RESPONSE_RECEIPT)
    unconfirmed = Message.objects.filter(campaign_link__campaign=campaign, status=Status.UNCONFIRMED)
    left = {category: set(unconfirmed.filter(category=category).values_list("to_email", flat=True))
            for category in (Category.REMINDER_SCHEDULED, Category.RESPONSE_RECEIPT)}  # fmt: skip
    assert set(invitations) == eligible
    assert set(reminders) <= eligible - answered
    assert set(reminders) | left[Category.REMINDER_SCHEDULED] == eligible - answered
    assert set(receipts) <= answered
    assert set(receipts) | left[Category.RESPONSE_RECEIPT] == answered
    # Each queued once, whatever the kills: one message row per recipient and purpose, all sent.
    links = CampaignMessage.objects.filter(campaign=campaign)
    assert Counter(links.values_list("purpose", flat=True)) == {
        Purpose.INVITATION: len(eligible),
        Purpose.REMINDER: len(eligible - answered),
        Purpose.RECEIPT: len(answered),
    }
    assert set(Message.objects.filter(campaign_link__campaign=campaign).values_list("status", flat=True)) <= {
        Status.SENT,
        Status.UNCONFIRMED,
    }
    assert not unconfirmed.filter(category=Category.INVITATION).exists()
    # Only what a killed worker had in flight may have arrived twice: the batch it was sending
    # and the one before, sent but still being recorded by its database thread (the worker
    # records a batch while it sends the next) — two batches per kill.
    in_flight = 2 * BATCH
    repeated = sum(n - 1 for n in invitations.values())
    assert repeated <= 2 * in_flight, f"{repeated} repeated invitations (2 kills)"
    repeated = sum(n - 1 for n in reminders.values()) + sum(n - 1 for n in receipts.values())
    assert repeated == 0, f"{repeated} repeated reminders and receipts (1 kill)"
    for mail in mails:  # every mail names its own recipient in its response link
        if mail.category != Category.RESPONSE_RECEIPT:
            assert Recipient.objects.get(pk=mail.recipient_id()).email == mail.to
    assert all(w.returncode == 0 for w in workers)

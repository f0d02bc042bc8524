"""Reminders and receipts are never received twice, even when workers are killed with SIGKILL
while they send them (decision 018): real ``openesp worker`` processes, a real SMTP sink on
loopback, three kills.

Invitations are sent first (at least once, as before: ``test_send_crash.py`` kills workers during
them). Then about a third of the recipients respond (each response queues a receipt), a manual
reminder goes to the others (category ``reminder``) and a scheduled one too
(``reminder_scheduled``); a worker is killed three times while these are delivered. Afterwards
no address has received a reminder of either kind or a receipt twice, and every one of those
messages is accounted for: ``sent`` and received exactly once, or ``unconfirmed`` (its worker
died while sending it; received at most once, not sent again) with the reason on its timeline.
None is lost silently, and only what the killed worker was sending at that moment is left
unconfirmed: a few messages per connection, not its whole batch.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from django.db import connection

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
from openesp.campaigns.stats import campaign_stats
from openesp.campaigns.templates import create_template
from openesp.delivery.queue import NOT_SENT_AGAIN
from openesp.messaging.models import AT_MOST_ONCE, Category, Event, Message, Status
from tests.campaigns.sending import delivered, make_audience, make_campaign, per_address
from tests.campaigns.test_send_crash import _kill_and_restart, _owner
from tests.delivery.test_crash import _message_ids, _start_worker
from tests.processes import HANG, wait_until

CONTACTS = 1200
KILLS = 3
CONNECTIONS = 4  # per worker (tests.delivery.test_crash._start_worker)


@pytest.mark.django_db(transaction=True)
def test_no_reminder_or_receipt_arrives_twice_when_workers_are_killed(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    alice, workspace = _owner()
    audience = make_audience(workspace, CONTACTS)
    receipt = create_template(workspace, name="Receipt", subject="Thanks, {{ contact.name }}", text="Noted.")
    campaign = make_campaign(workspace, alice, audience, receipt=receipt)
    schedule_campaign(campaign)
    workers = [_start_worker(processes, sink.port) for _ in range(2 if connection.vendor == "postgresql" else 1)]
    try:
        wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT, "campaign sent")
        invited = len(sink.messages)
        campaign.refresh_from_db()

        recipients = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
        responders = recipients[::3]
        for recipient in responders:  # each response queues a receipt
            record_response(recipient, source="api")
        create_reminder(campaign, alice, version=campaign.template_version)  # manual: queued now
        scheduled = create_reminder(campaign, alice, version=campaign.template_version, after_days=0)
        for kill in range(KILLS):
            target = len(sink.messages) + 120
            wait_until(lambda t=target: len(sink.messages) >= t, f"reminders and receipts before kill {kill + 1}")
            _kill_and_restart(processes, workers, sink.port)
        wait_until(lambda: Reminder.objects.get(pk=scheduled.pk).status == ReminderStatus.SENT, "the reminder queued")
        due = Message.objects.filter(status__in=[Status.QUEUED, Status.DEFERRED, Status.SENDING])
        wait_until(lambda: not due.exists(), "every message to be settled")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=HANG)

    mails = delivered(sink)
    assert len(mails) > invited + KILLS * 120  # the kills landed while reminders and receipts went out
    eligible, answered = audience.eligible, {r.email for r in responders}
    # Per address at the sink: none twice.
    for category, addresses in (
        (Category.REMINDER, eligible - answered),
        (Category.REMINDER_SCHEDULED, eligible - answered),
        (Category.RESPONSE_RECEIPT, answered),
    ):
        received = per_address(mails, category)
        assert set(received) <= addresses, category
        twice = sorted(a for a, n in received.items() if n > 1)
        assert not twice, f"a {category} arrived twice at {twice[:5]}"

    # Per message: sent and received once, or unconfirmed (received at most once) with its reason.
    received_ids = _message_ids(sink)
    once = Message.objects.filter(campaign_link__campaign=campaign, category__in=AT_MOST_ONCE)
    statuses = Counter(once.values_list("status", flat=True))
    links = Counter(
        CampaignMessage.objects.filter(campaign=campaign).exclude(purpose=Purpose.INVITATION).values_list("purpose")
    )
    assert sum(statuses.values()) == sum(links.values()) == 2 * len(eligible - answered) + len(answered)
    assert set(statuses) <= {Status.SENT, Status.UNCONFIRMED}, statuses  # none lost silently
    for public_id, status in once.values_list("public_id", "status"):
        copies = received_ids[str(public_id)]
        assert copies == 1 if status == Status.SENT else copies <= 1, (status, copies)
    unconfirmed = once.filter(status=Status.UNCONFIRMED)
    events = Event.objects.filter(message__in=unconfirmed, type="unconfirmed", detail=NOT_SENT_AGAIN)
    assert events.count() == unconfirmed.count()
    # Only what was on the killed worker's connections: each holds one message between its start
    # mark and its transaction's end, and its acceptance mark may trail by a commit or two.
    assert unconfirmed.count() <= KILLS * 3 * CONNECTIONS, statuses
    stats = campaign_stats(Campaign.objects.get(pk=campaign.pk))
    assert stats["reminders_sent"] + stats["receipts_sent"] == statuses[Status.SENT]
    assert stats["unconfirmed"] == statuses[Status.UNCONFIRMED]
    print(f"at-most-once messages: {dict(statuses)}; received {len(mails) - invited} of them")
    # Invitations: at least once, as before; every eligible address has one.
    assert set(per_address(mails, Category.INVITATION)) == eligible
    assert all(w.returncode == 0 for w in workers)

"""A campaign's invitations are queued in chunks as delivery drains them (decision 022).

The audience is frozen whole at the start; ``OPENESP_CAMPAIGN_CHUNK`` (7 here, over 30
contacts) recipients' invitations are queued at a time, in recipient order, and the scheduler
queues the next chunk once fewer than half a chunk of the latest one waits to be sent.
"Delivery" here marks the queued invitations sent, as a worker's record step does.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import HELD, cancel_campaign, pause_campaign, resume_campaign, schedule_campaign
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
from openesp.campaigns.scheduling import run_due, start_campaign
from openesp.campaigns.stats import campaign_stats
from openesp.messaging.models import Event, EventType, Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONTACTS = 30
CHUNK = 7


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.OPENESP_CAMPAIGN_CHUNK = CHUNK


@pytest.fixture
def started(campaign, workspace):
    thirty = create_list(workspace, "Thirty")
    for i in range(CONTACTS):
        create_contact(workspace, f"t{i:02}@example.com", name=f"T {i}", lists=[thirty])
    campaign.lists.set([thirty])
    schedule_campaign(campaign, now=NOW)
    assert start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def _invitations(campaign: Campaign):
    return Message.objects.filter(campaign_link__campaign=campaign, campaign_link__purpose=Purpose.INVITATION)


def _deliver(campaign: Campaign, count: int | None = None) -> int:
    """Mark the first ``count`` (all) queued invitations sent, in the order a worker claims them."""
    due = _invitations(campaign).filter(status=Status.QUEUED).order_by("id")
    ids = list(due.values_list("id", flat=True)[:count] if count is not None else due.values_list("id", flat=True))
    return Message.objects.filter(id__in=ids).update(status=Status.SENT)


def _invited(campaign: Campaign) -> Counter[int]:
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    return Counter(links.values_list("recipient_id", flat=True))


def _recipients(campaign: Campaign) -> list[int]:
    return list(Recipient.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))


def test_it_freezes_everyone_and_queues_the_first_chunk_at_the_start(started):
    recipients = _recipients(started)
    assert len(recipients) == started.audience == CONTACTS
    assert set(_invited(started)) == set(recipients[:CHUNK])  # the first ones, in recipient order
    assert (started.uninvited, started.invited_through) == (CONTACTS - CHUNK, recipients[CHUNK - 1])


def test_it_invites_every_recipient_exactly_once_and_then_the_campaign_is_sent(started):
    rounds = 0
    while Campaign.objects.get(pk=started.pk).status != CampaignStatus.SENT:
        rounds += 1
        assert rounds < 20, "the campaign did not finish"
        _deliver(started)
        run_due(NOW + timedelta(minutes=rounds))
    assert _invited(started) == Counter(_recipients(started))
    assert _invitations(started).count() == CONTACTS
    # Message ids follow recipient ids: the chunks went in in order.
    links = CampaignMessage.objects.filter(campaign=started, purpose=Purpose.INVITATION).order_by("message_id")
    assert list(links.values_list("recipient_id", flat=True)) == _recipients(started)
    assert Campaign.objects.get(pk=started.pk).uninvited == 0


def test_it_queues_the_next_chunk_only_when_the_queue_runs_low(started):
    assert run_due(NOW).invited == 0  # all seven wait
    _deliver(started, 3)  # four wait: more than half a chunk
    assert run_due(NOW).invited == 0
    _deliver(started, 1)  # three wait
    assert run_due(NOW).invited == CHUNK
    assert run_due(NOW).invited == 0
    assert _invitations(started).filter(status=Status.QUEUED).count() == 3 + CHUNK


def test_it_is_not_sent_while_recipients_are_left_to_invite(started):
    _deliver(started)
    ran = run_due(NOW)
    assert ran.finished == [] and ran.invited == CHUNK


def test_a_paused_campaign_is_not_refilled_and_a_resumed_one_is(started):
    _deliver(started)
    pause_campaign(started, now=NOW)
    assert run_due(NOW).invited == 0
    assert _invitations(started).count() == CHUNK
    resume_campaign(started, now=NOW)
    assert run_due(NOW).invited == CHUNK
    assert not _invitations(started).filter(not_before=HELD).exists()


def test_a_cancelled_campaign_leaves_nothing_queued_and_is_never_refilled(started):
    _deliver(started, 2)
    cancel_campaign(started, now=NOW)
    assert not _invitations(started).filter(status=Status.QUEUED).exists()
    assert run_due(NOW + timedelta(hours=1)).invited == 0
    assert _invitations(started).count() == CHUNK
    stats = campaign_stats(Campaign.objects.get(pk=started.pk))
    # Five taken off the queue, twenty-three never queued: all cancelled, none queued.
    assert (stats["queued"], stats["cancelled"]) == (0, CHUNK - 2 + CONTACTS - CHUNK)
    assert Campaign.objects.get(pk=started.pk).status == CampaignStatus.CANCELLED


def test_the_numbers_count_the_recipients_not_queued_yet_as_queued(started):
    stats = campaign_stats(started)
    assert (stats["audience"], stats["queued"], stats["cancelled"]) == (CONTACTS, CONTACTS, 0)
    _deliver(started, 4)
    run_due(NOW)  # three wait: the second chunk is queued
    started.refresh_from_db()
    assert started.uninvited == CONTACTS - 2 * CHUNK
    assert campaign_stats(started)["queued"] == CONTACTS - 4


def test_a_reminder_queues_the_invitations_left_first(started, alice):
    reminder = create_reminder(started, alice, version=started.template_version, now=NOW)
    assert reminder.sent == CONTACTS
    assert _invited(started) == Counter(_recipients(started))
    started.refresh_from_db()
    assert started.uninvited == 0
    # Each recipient's invitation comes before their reminder in the queue.
    links = CampaignMessage.objects.filter(campaign=started)
    for recipient_id in _recipients(started):
        mine = dict(links.filter(recipient_id=recipient_id).values_list("purpose", "message_id"))
        assert mine[Purpose.INVITATION] < mine[Purpose.REMINDER]


def test_a_reminder_of_a_paused_campaign_goes_only_to_who_was_invited(started, alice):
    pause_campaign(started, now=NOW)
    reminder = create_reminder(started, alice, version=started.template_version, now=NOW)
    assert Reminder.objects.get(pk=reminder.pk).status == ReminderStatus.SENT
    assert reminder.sent == CHUNK
    reminded = CampaignMessage.objects.filter(campaign=started, purpose=Purpose.REMINDER)
    assert set(reminded.values_list("recipient_id", flat=True)) == set(_recipients(started)[:CHUNK])
    assert _invitations(started).count() == CHUNK  # paused: no more invitations


def test_a_response_before_the_invitation_is_queued_queues_it_then(started):
    late = Recipient.objects.get(pk=_recipients(started)[-1])
    record_response(late, source="api", now=NOW)
    invitation = _invitations(started).get(campaign_link__recipient=late)
    assert invitation.status == Status.QUEUED
    assert Event.objects.filter(message=invitation, type=EventType.RESPONDED).exists()
    assert Campaign.objects.get(pk=started.pk).uninvited == CONTACTS - CHUNK - 1
    for minute in range(20):  # the chunks pass over it without queueing it again
        _deliver(started)
        run_due(NOW + timedelta(minutes=minute))
    assert _invited(started) == Counter(_recipients(started))
    assert Campaign.objects.get(pk=started.pk).status == CampaignStatus.SENT


def test_a_response_of_a_paused_campaign_queues_the_invitation_held(started):
    pause_campaign(started, now=NOW)
    late = Recipient.objects.get(pk=_recipients(started)[-1])
    record_response(late, source="api", now=NOW)
    assert _invitations(started).get(campaign_link__recipient=late).not_before == HELD
    resume_campaign(started, now=NOW)
    assert _invitations(started).get(campaign_link__recipient=late).not_before != HELD

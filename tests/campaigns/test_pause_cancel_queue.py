"""Pause holds a sending campaign's queued messages, resume releases them, cancel leaves nothing queued."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openesp.campaigns.campaigns import HELD, cancel_campaign, pause_campaign, resume_campaign, schedule_campaign
from openesp.campaigns.models import CampaignStatus
from openesp.campaigns.scheduling import run_due, start_campaign
from openesp.delivery.queue import claim
from openesp.messaging.models import Event, EventType, Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def started(campaign):
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def _messages(campaign):
    return Message.objects.filter(campaign_link__campaign=campaign)


def test_it_stops_claiming_at_once_when_paused(started):
    Message.objects.filter(pk=_messages(started).order_by("id").first().pk).update(status=Status.SENDING)
    pause_campaign(started)
    assert started.status == CampaignStatus.PAUSED
    assert claim("w1", limit=100) == []
    assert _messages(started).filter(not_before=HELD).count() == 4
    assert _messages(started).filter(status=Status.SENDING).count() == 1  # a worker holds it: it goes


def test_it_continues_where_it_stopped_when_resumed(started):
    pause_campaign(started)
    resume_campaign(started)
    assert started.status == CampaignStatus.SENDING
    assert len(claim("w1", limit=100)) == 5


def test_it_leaves_nothing_queued_when_cancelled(started):
    sent = _messages(started).order_by("id").first()
    Message.objects.filter(pk=sent.pk).update(status=Status.SENT)
    cancel_campaign(started)
    assert started.status == CampaignStatus.CANCELLED
    assert _messages(started).filter(status__in=[Status.QUEUED, Status.DEFERRED]).count() == 0
    assert _messages(started).filter(status=Status.CANCELLED).count() == 4
    cancelled = Event.objects.filter(message__in=_messages(started), type=EventType.CANCELLED)
    assert cancelled.count() == 4
    assert set(cancelled.values_list("detail", flat=True)) == {"the campaign was cancelled"}
    assert claim("w1", limit=100) == []


def test_it_marks_a_campaign_sent_once_its_invitations_are_done(started):
    assert run_due(NOW).finished == []
    _messages(started).update(status=Status.SENT)
    assert run_due(NOW).finished == [started.pk]
    started.refresh_from_db()
    assert (started.status, started.finished_at) == (CampaignStatus.SENT, NOW)

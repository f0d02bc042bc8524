"""Reminders reach who has not responded and is not suppressed at send time, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openesp.audience.models import SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Purpose, Recipient, ReminderStatus
from openesp.campaigns.reminders import create_reminder, send_reminder
from openesp.campaigns.responses import record_response
from openesp.campaigns.scheduling import run_due, start_campaign
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Category, Message

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def nudge(workspace):
    return create_template(workspace, name="Nudge", subject="Still time, {{ contact.name }}", text="x")


@pytest.fixture
def started(campaign):
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    record_response(Recipient.objects.get(campaign=campaign, email="m0@example.com"), now=NOW)
    add_suppression(campaign.workspace, "m1@example.com", SuppressionReason.UNSUBSCRIBE, source="api")
    return campaign


def _reminded(reminder) -> list[str]:
    return sorted(
        Message.objects.filter(campaign_link__reminder=reminder, campaign_link__purpose=Purpose.REMINDER).values_list(
            "to_email", flat=True
        )
    )


def test_it_sends_a_manual_reminder_now_to_who_has_not_responded(started, alice, nudge):
    reminder = create_reminder(started, alice, version=nudge, now=NOW)
    assert reminder.status == ReminderStatus.SENT
    assert _reminded(reminder) == ["m2@example.com", "m3@example.com", "m4@example.com"]
    assert set(Message.objects.filter(campaign_link__reminder=reminder).values_list("category", flat=True)) == {
        Category.REMINDER
    }
    assert reminder.sent == 3


def test_it_never_sends_one_reminder_twice(started, alice, nudge):
    reminder = create_reminder(started, alice, version=nudge, now=NOW)
    assert not send_reminder(reminder.pk, NOW)
    assert len(_reminded(reminder)) == 3


def test_it_sends_a_scheduled_reminder_when_due(started, alice, nudge):
    reminder = create_reminder(started, alice, version=nudge, after_days=3, now=NOW)
    assert run_due(NOW + timedelta(days=2)).reminders == []
    record_response(Recipient.objects.get(campaign=started, email="m2@example.com"))  # answers meanwhile
    assert run_due(NOW + timedelta(days=3)).reminders == [reminder.pk]
    assert _reminded(reminder) == ["m3@example.com", "m4@example.com"]
    assert set(Message.objects.filter(campaign_link__reminder=reminder).values_list("category", flat=True)) == {
        Category.REMINDER_SCHEDULED
    }
    assert run_due(NOW + timedelta(days=4)).reminders == []


def test_it_sends_a_reminder_at_a_local_time(started, alice, nudge):
    reminder = create_reminder(
        started, alice, version=nudge, send_at=datetime(2026, 12, 3, 9), time_zone="Europe/Stockholm", now=NOW
    )
    assert run_due(datetime(2026, 12, 3, 7, 59, tzinfo=UTC)).reminders == []
    assert run_due(datetime(2026, 12, 3, 8, 0, tzinfo=UTC)).reminders == [reminder.pk]


def test_it_refuses_a_manual_reminder_before_the_campaign_starts(campaign, alice, nudge):
    with pytest.raises(Conflict, match="a draft campaign cannot be reminded"):
        create_reminder(campaign, alice, version=nudge, now=NOW)
    schedule_campaign(campaign, now=NOW)
    with pytest.raises(Conflict, match="has not started"):
        create_reminder(campaign, alice, version=nudge, now=NOW)

"""A campaign's numbers are counted from its recipients, messages and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openesp.audience.models import Contact
from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import Purpose, Recipient
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.responses import record_response
from openesp.campaigns.scheduling import start_campaign
from openesp.campaigns.stats import campaign_stats, campaign_timeline
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Event, EventType, Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def started(campaign, workspace, alice):
    campaign.receipt_version = create_template(workspace, name="Thanks", subject="Thanks", text="t", actor=alice)
    campaign.save()
    Contact.objects.filter(workspace=workspace, email="m4@example.com").update(status="unsubscribed")
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def _invitation(campaign, email: str) -> Message:
    return Message.objects.get(
        campaign_link__campaign=campaign, campaign_link__purpose=Purpose.INVITATION, to_email=email
    )


def _happened(message: Message, *types: str, at: datetime = NOW) -> None:
    for kind in types:
        Event.objects.create(message=message, type=kind, created_at=at)


def test_a_campaign_just_started_has_its_audience_queued(started):
    stats = campaign_stats(started)
    assert stats["audience"] == 4
    assert stats["excluded"] == {"suppressed": 0, "unsubscribed": 1, "not_subscribed": 0, "erased": 0}
    assert (stats["queued"], stats["sent"], stats["responded"], stats["receipts_sent"]) == (4, 0, 0, 0)


def test_it_counts_what_happened_to_the_invitations_and_the_recipients(started, alice):
    for email in ("m0@example.com", "m1@example.com", "m2@example.com"):
        message = _invitation(started, email)
        message.status = Status.SENT
        message.save()
        _happened(message, EventType.SENT)
    _happened(_invitation(started, "m0@example.com"), EventType.DELIVERED, EventType.OPENED, EventType.OPENED)
    _happened(_invitation(started, "m1@example.com"), EventType.BOUNCED)
    _happened(_invitation(started, "m2@example.com"), EventType.OPENED, EventType.CLICKED, EventType.UNSUBSCRIBED)
    record_response(Recipient.objects.get(campaign=started, email="m0@example.com"), now=NOW + timedelta(hours=2))
    reminder_version = create_template(started.workspace, name="Nudge", subject="Nudge", text="n", actor=alice)
    create_reminder(started, alice, version=reminder_version)
    reminder = Message.objects.get(campaign_link__purpose=Purpose.REMINDER, to_email="m1@example.com")
    _happened(reminder, EventType.SENT, EventType.OPENED)
    receipt = Message.objects.get(campaign_link__purpose=Purpose.RECEIPT)
    _happened(receipt, EventType.SENT)
    Contact.objects.filter(email="m3@example.com").delete()

    stats = campaign_stats(started)

    assert {key: stats[key] for key in ("queued", "sent", "delivered", "bounced", "responded")} == {
        "queued": 1,
        "sent": 3,
        "delivered": 1,
        "bounced": 1,
        "responded": 1,
    }
    assert stats["opened"] == 3  # recipients, not opens: m0 (twice), m2, and m1 on the reminder
    assert (stats["clicked"], stats["unsubscribed"], stats["complained"]) == (1, 1, 0)
    assert (stats["reminders_sent"], stats["receipts_sent"]) == (1, 1)
    assert stats["excluded"]["erased"] == 1


def test_the_timeline_counts_sends_and_responses_per_hour(started):
    _happened(_invitation(started, "m0@example.com"), EventType.SENT, at=NOW)
    _happened(_invitation(started, "m1@example.com"), EventType.SENT, at=NOW + timedelta(minutes=10))
    _happened(_invitation(started, "m2@example.com"), EventType.SENT, at=NOW + timedelta(hours=1))
    record_response(Recipient.objects.get(campaign=started, email="m0@example.com"), now=NOW + timedelta(hours=1))

    timeline = campaign_timeline(started)

    assert timeline["unit"] == "hour"
    assert [(p["at"][:13], p["sent"], p["responded"]) for p in timeline["points"]] == [
        ("2026-12-01T12", 2, 0),
        ("2026-12-01T13", 1, 1),
    ]


def test_the_timeline_counts_per_day_when_the_campaign_spans_days(started):
    _happened(_invitation(started, "m0@example.com"), EventType.SENT, at=NOW)
    _happened(_invitation(started, "m1@example.com"), EventType.SENT, at=NOW + timedelta(days=5))
    timeline = campaign_timeline(started)
    assert timeline["unit"] == "day"
    assert [(p["at"][:10], p["sent"]) for p in timeline["points"]] == [("2026-12-01", 1), ("2026-12-06", 1)]

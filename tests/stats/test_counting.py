"""Events written through ``messaging.eventlog`` land in the daily counters in the same
transaction, one row per (workspace, UTC day, category, provider, campaign)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import CampaignMessage
from openesp.campaigns.scheduling import start_campaign
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from openesp.messaging.submit import parse_submission, submit
from openesp.stats.counting import bounce_kind
from openesp.stats.models import DailyCounter, SendLatency
from openesp.stats.rebuild import rebuild

DAY = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def _send(alice, org, workspace, *to: str) -> list[Message]:
    body = {"from": "alice@example.org", "to": list(to), "subject": "Hi", "text": "Hi"}
    return submit(alice, parse_submission(body), workspace=workspace, organization=org)


def _sent(messages: list[Message], provider: str = "smtp") -> None:
    Message.objects.filter(id__in=[m.pk for m in messages]).update(provider_kind=provider, status="sent")


def _row(**key) -> dict:
    return DailyCounter.objects.values().get(**key)


def test_accepted_mail_is_requested_under_no_provider(alice, org, workspace):
    _send(alice, org, workspace, "a@example.com", "b@example.com")
    (row,) = DailyCounter.objects.values()
    assert (row["workspace_id"], row["category"], row["provider"], row["campaign_id"]) == (
        workspace.pk, "transactional", "", 0,
    )  # fmt: skip
    assert row["requested"] == 2
    assert row["day"] == Message.objects.first().created_at.astimezone(UTC).date()


def test_each_event_type_adds_to_its_counter(alice, org, workspace):
    a, b = _send(alice, org, workspace, "a@example.com", "b@example.com")
    _sent([a, b], "sendgrid")
    add_events(
        [
            Event(message=a, type=EventType.SENT, created_at=DAY),
            Event(message=b, type=EventType.SENT, created_at=DAY),
            Event(message=a, type=EventType.DELIVERED, created_at=DAY),
            Event(message=b, type=EventType.DEFERRED, created_at=DAY),
            Event(message=b, type=EventType.BOUNCED, created_at=DAY, data={"bounce": "soft"}),
            Event(message=a, type=EventType.OPENED, created_at=DAY, data={"first": True, "machine": True}),
            Event(message=a, type=EventType.OPENED, created_at=DAY, data={"machine": False}),
            Event(message=a, type=EventType.OPENED, created_at=DAY, data={}),
            Event(message=a, type=EventType.CLICKED, created_at=DAY, data={"first": True, "machine": False}),
            Event(message=a, type=EventType.COMPLAINED, created_at=DAY),
            Event(message=a, type=EventType.UNSUBSCRIBED, created_at=DAY),
            Event(message=a, type=EventType.RESPONDED, created_at=DAY),
            Event(message=a, type=EventType.CANCELLED, created_at=DAY),
        ]
    )
    row = _row(workspace_id=workspace.pk, day=date(2026, 11, 30), provider="sendgrid")
    assert {k: v for k, v in row.items() if isinstance(v, int) and k not in ("id", "workspace_id", "campaign_id")} == {
        "requested": 0, "sent": 2, "delivered": 1, "deferred": 1, "bounced_hard": 0, "bounced_soft": 1,
        "dropped": 0, "opened": 3, "opened_unique": 1, "opened_human": 2, "clicked": 1, "clicked_unique": 1,
        "clicked_human": 1, "complained": 1, "unsubscribed": 1, "responded": 1,
    }  # fmt: skip
    # One row for the day and provider however many events: the batch was added set-wise.
    assert DailyCounter.objects.filter(provider="sendgrid").count() == 1


def test_events_count_on_their_own_utc_day_and_add_to_the_row(alice, org, workspace):
    (a,) = _send(alice, org, workspace, "a@example.com")
    _sent([a])
    add_events([Event(message=a, type=EventType.SENT, created_at=DAY)])
    add_events([Event(message=a, type=EventType.DELIVERED, created_at=DAY + timedelta(hours=1))])
    add_events([Event(message=a, type=EventType.OPENED, created_at=DAY + timedelta(minutes=10), data={"first": True})])
    assert _row(day=date(2026, 11, 30), provider="smtp")["sent"] == 1
    assert _row(day=date(2026, 11, 30), provider="smtp")["opened_unique"] == 1
    assert _row(day=date(2026, 12, 1), provider="smtp")["delivered"] == 1


@pytest.mark.parametrize(
    ("data", "enhanced", "code", "kind"),
    [
        ({"bounce": "hard"}, "4.2.2", 452, "hard"),  # what the writer said wins
        ({"bounce": "soft"}, "5.1.1", 550, "soft"),
        ({"bounce": "expired"}, "", None, "soft"),  # temporary failures until openesp gave up
        ({}, "5.1.1", None, "hard"),
        ({}, "4.2.2", None, "soft"),
        ({}, "", 421, "soft"),
        ({}, "", 550, "hard"),
        ({}, "", None, "hard"),
    ],
)
def test_bounces_are_hard_or_soft(data, enhanced, code, kind):
    assert bounce_kind(Event(type=EventType.BOUNCED, data=data, enhanced_status=enhanced, smtp_code=code)) == kind


def test_nothing_is_counted_for_events_rolled_back(alice, org, workspace):
    (a,) = _send(alice, org, workspace, "a@example.com")
    _sent([a])
    before = list(DailyCounter.objects.values())

    def fail_after_the_events() -> None:
        with transaction.atomic():
            add_events([Event(message=a, type=EventType.SENT, created_at=DAY)])
            raise RuntimeError("the writer's transaction fails after the events")

    with pytest.raises(RuntimeError):
        fail_after_the_events()
    assert list(DailyCounter.objects.values()) == before


def test_a_started_campaign_counts_its_invitations_as_requested_without_events(campaign):
    now = datetime.now(UTC)
    schedule_campaign(campaign, now=now)
    start_campaign(campaign.pk, now)
    (row,) = DailyCounter.objects.filter(campaign_id=campaign.pk).values()
    assert (row["requested"], row["category"], row["provider"], row["day"]) == (5, "invitation", "", now.date())
    assert not Event.objects.exists()  # queued set-wise, counted by the campaigns' hook
    # Its messages' events count under the campaign.
    message = Message.objects.get(pk=CampaignMessage.objects.filter(campaign=campaign).first().pk)
    _sent([message])
    add_events([Event(message=message, type=EventType.SENT, created_at=now)])
    assert _row(campaign_id=campaign.pk, provider="smtp")["sent"] == 1


def test_a_batch_mixing_queued_and_later_events_reads_the_stored_message_for_the_later_ones(alice, org, workspace):
    # Queued events are counted from the message object the writer holds; a message with any
    # other event in the batch is read from the database (its provider is chosen at sending,
    # after the in-memory object was made).
    a, b = _send(alice, org, workspace, "a@example.com", "b@example.com")
    _sent([a], "mailjet")
    assert a.provider_kind == ""  # the object is stale: the database says mailjet
    add_events(
        [
            Event(message=a, type=EventType.QUEUED, created_at=DAY),
            Event(message=a, type=EventType.SENT, created_at=DAY),
            Event(message=b, type=EventType.QUEUED, created_at=DAY),
        ]
    )
    day = date(2026, 11, 30)
    assert _row(workspace_id=workspace.pk, day=day, provider="mailjet")["sent"] == 1
    assert _row(workspace_id=workspace.pk, day=day, provider="")["requested"] == 2


def test_a_queued_event_of_a_campaign_message_counts_under_its_campaign(campaign):
    now = datetime.now(UTC)
    schedule_campaign(campaign, now=now)
    start_campaign(campaign.pk, now)
    message = CampaignMessage.objects.select_related("message").filter(campaign=campaign).first().message
    add_events([Event(message=message, type=EventType.QUEUED, created_at=DAY)])
    assert _row(campaign_id=campaign.pk, day=date(2026, 11, 30))["requested"] == 1


def test_sends_fill_the_latency_histogram(alice, org, workspace):
    a, b = _send(alice, org, workspace, "a@example.com", "b@example.com")
    _sent([a, b])
    accepted = Message.objects.get(pk=a.pk).created_at
    add_events(
        [
            Event(message=a, type=EventType.SENT, created_at=accepted + timedelta(seconds=3)),
            Event(message=b, type=EventType.SENT, created_at=accepted + timedelta(minutes=30)),
        ]
    )
    cells = {(r.bucket, r.n, round(r.seconds)) for r in SendLatency.objects.filter(provider="smtp")}
    assert cells == {(1, 1, 3), (6, 1, 1800)}  # the 5 s bucket and the 1 h bucket


def test_rebuild_recounts_what_the_listener_counted(alice, org, workspace, campaign):
    now = datetime.now(UTC)
    schedule_campaign(campaign, now=now)
    start_campaign(campaign.pk, now)
    a, b = _send(alice, org, workspace, "a@example.com", "b@example.com")
    _sent([a, b])
    add_events(
        [
            Event(message=a, type=EventType.SENT, created_at=DAY),
            Event(message=b, type=EventType.BOUNCED, created_at=DAY, enhanced_status="5.1.1"),
            Event(message=a, type=EventType.OPENED, created_at=DAY, data={"first": True}),
        ]
    )
    live = sorted(DailyCounter.objects.values_list(*_COLUMNS))
    latency = sorted(SendLatency.objects.values_list("provider", "bucket", "n"))
    DailyCounter.objects.all().delete()  # an installation that never counted
    rebuild()
    assert sorted(DailyCounter.objects.values_list(*_COLUMNS)) == live
    assert sorted(SendLatency.objects.values_list("provider", "bucket", "n")) == latency
    out = io.StringIO()
    call_command("stats", "rebuild", stdout=out)  # and again, as the operator runs it: replaced, not added
    assert out.getvalue() == "statistics rebuilt from 5 events\n"  # two queued, three after
    assert sorted(DailyCounter.objects.values_list(*_COLUMNS)) == live


_COLUMNS = ("workspace_id", "day", "category", "provider", "campaign_id", "requested", "sent", "bounced_hard", "opened")

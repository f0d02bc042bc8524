"""Category messages: a one-off mail to a category's subscribers, now or at a local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openesp.audience.actions import create_contact
from openesp.audience.categories import create_category, subscribe_category, unsubscribe_category
from openesp.audience.models import Contact, ContactStatus, SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.access import campaigns_for
from openesp.campaigns.category_messages import cancel_category_message, create_category_message
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import CampaignMessage, CampaignStatus, Recipient
from openesp.campaigns.render import NotSendable, RenderedMessage, render_messages
from openesp.campaigns.scheduling import run_due
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Category, Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def news(workspace):
    topic = create_category(workspace, "Product news")
    for name in ("a", "b", "c", "unsub", "bounced", "blocked", "gone"):
        contact = create_contact(workspace, f"{name}@example.com", name=name.title())
        subscribe_category(contact, topic)
    create_contact(workspace, "not-in-category@example.com")
    Contact.objects.filter(email="unsub@example.com").update(status=ContactStatus.UNSUBSCRIBED)
    Contact.objects.filter(email="bounced@example.com").update(status=ContactStatus.BOUNCED)
    add_suppression(workspace, "blocked@example.com", SuppressionReason.MANUAL)
    unsubscribe_category(Contact.objects.get(email="gone@example.com"), topic)
    return topic


def _messages(message) -> list[Message]:
    ids = CampaignMessage.objects.filter(campaign=message.campaign).values("message_id")
    return list(Message.objects.filter(id__in=ids).order_by("to_email"))


def test_sent_now_it_queues_one_message_per_subscriber_left_after_exclusions(workspace, alice, version, news):
    message = create_category_message(workspace, alice, topic=news, version=version, from_email=alice.email, now=NOW)
    container = message.campaign
    assert container.status == CampaignStatus.SENDING
    assert (container.audience, container.excluded_suppressed, container.excluded_unsubscribed) == (3, 2, 1)
    queued = _messages(message)
    assert [(m.to_email, m.category, m.status, m.text_body) for m in queued] == [
        (f"{n}@example.com", Category.CATEGORY_MESSAGE, Status.QUEUED, "") for n in "abc"
    ]
    results = render_messages(queued)
    assert [r.subject for r in results.values() if isinstance(r, RenderedMessage)] == ["Hello A", "Hello B", "Hello C"]
    assert "List-Unsubscribe" in dict(results[queued[0].pk].headers)  # type: ignore[union-attr]
    assert list(campaigns_for(alice)) == []  # its container is no campaign of the workspace


def test_scheduled_it_starts_at_the_local_time_in_its_zone_once(workspace, alice, version, news):
    message = create_category_message(
        workspace, alice, topic=news, version=version, from_email=alice.email,
        send_at=datetime(2026, 12, 24, 9, 0), time_zone="Europe/Stockholm", now=NOW,
    )  # fmt: skip
    assert message.campaign.send_at == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    assert run_due(datetime(2026, 12, 24, 7, 59, tzinfo=UTC)).category_messages == []
    assert not _messages(message)
    assert run_due(datetime(2026, 12, 24, 8, 0, tzinfo=UTC)).category_messages == [message.campaign_id]
    assert run_due(datetime(2026, 12, 24, 8, 1, tzinfo=UTC)).category_messages == []
    assert len(_messages(message)) == 3
    assert Recipient.objects.filter(campaign=message.campaign).count() == 3


def test_cancelling_leaves_nothing_queued_and_twice_is_a_conflict(workspace, alice, version, news):
    message = create_category_message(workspace, alice, topic=news, version=version, from_email=alice.email, now=NOW)
    cancel_category_message(message, now=NOW)
    queued = _messages(message)
    assert {m.status for m in queued} == {Status.CANCELLED}
    assert all(isinstance(r, NotSendable) for r in render_messages(queued).values())
    with pytest.raises(Conflict):
        cancel_category_message(message, now=NOW)


def test_wrong_fields_are_named(workspace, alice, version, news):
    with pytest.raises(InvalidInput) as exc:
        create_category_message(
            workspace, alice, topic=news, version=version, from_email="x@elsewhere.example",
            send_at=datetime(2026, 3, 29, 2, 30), time_zone="Europe/Stockholm", now=NOW,
        )  # fmt: skip
    assert {p.field for p in exc.value.problems} == {"from", "send_at"}
    with pytest.raises(InvalidInput) as exc:
        create_category_message(
            workspace, alice, topic=news, version=version, from_email=alice.email,
            send_at=datetime(2026, 12, 24, 9, 0), time_zone="Mars/Olympus", now=NOW,
        )  # fmt: skip
    assert [p.field for p in exc.value.problems] == ["time_zone"]
    with pytest.raises(InvalidInput) as exc:
        create_category_message(
            workspace, alice, topic=news, version=version, from_email=alice.email,
            send_at=datetime(2026, 11, 24, 9, 0), time_zone="Europe/Stockholm", now=NOW,
        )  # fmt: skip
    assert [p.reason for p in exc.value.problems] == ["is in the past"]

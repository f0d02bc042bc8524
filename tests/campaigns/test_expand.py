"""Starting a campaign freezes its audience set-wise, counts exclusions by reason, and queues one
invitation per recipient that stores no body."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from openesp.audience.actions import create_contact, create_list, unsubscribe
from openesp.audience.gdpr import erase_contact
from openesp.audience.models import (
    Contact,
    ContactStatus,
    Segment,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.scheduling import run_due, start_campaign
from openesp.messaging.models import Category, Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def audience(workspace, members):
    """members has m0..m4 subscribed; make some of them ineligible, and add a pending one."""
    contacts = {c.email: c for c in Contact.objects.filter(workspace=workspace)}
    add_suppression(workspace, "m0@example.com", SuppressionReason.HARD_BOUNCE, source="api")
    Suppression.objects.create(workspace=None, email="m1@example.com", reason=SuppressionReason.MANUAL)
    add_suppression(workspace, "m2@example.com", SuppressionReason.UNSUBSCRIBE, source="api")
    unsubscribe(contacts["m3@example.com"], members)
    Subscription.objects.create(
        contact=create_contact(workspace, "p@example.com"), contact_list=members, status=SubscriptionStatus.PENDING
    )
    create_contact(workspace, "other@example.com")  # on no list: not a candidate at all
    return members


def _start(campaign):
    schedule_campaign(campaign, now=NOW)
    assert start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def test_it_freezes_eligible_contacts_and_counts_the_others_by_reason(campaign, audience):
    create_contact(campaign.workspace, "m5@example.com", lists=[audience])
    _start(campaign)
    assert campaign.status == CampaignStatus.SENDING
    assert sorted(Recipient.objects.filter(campaign=campaign).values_list("email", flat=True)) == [
        "m4@example.com",
        "m5@example.com",
    ]
    # m3 left the list: unsubscribed; p is pending on another list: not subscribed.
    assert (campaign.audience, campaign.excluded_suppressed, campaign.excluded_unsubscribed) == (2, 2, 2)
    assert campaign.excluded_not_subscribed == 1


def test_it_counts_contact_status_as_an_exclusion(campaign, members):
    Contact.objects.filter(email="m0@example.com").update(status=ContactStatus.BOUNCED)
    Contact.objects.filter(email="m1@example.com").update(status=ContactStatus.UNSUBSCRIBED)
    _start(campaign)
    assert (campaign.audience, campaign.excluded_suppressed, campaign.excluded_unsubscribed) == (3, 1, 1)


def test_it_queues_one_invitation_per_recipient_without_a_body(campaign, members, alice, workspace):
    _start(campaign)
    messages = Message.objects.filter(campaign_link__campaign=campaign)
    assert sorted(messages.values_list("to_email", flat=True)) == [f"m{i}@example.com" for i in range(5)]
    for message in messages:
        assert (message.category, message.status, message.user, message.workspace) == (
            Category.INVITATION,
            Status.QUEUED,
            alice,
            workspace,
        )
        assert message.organization_id == workspace.organization_id
        assert (message.subject, message.html_body, message.text_body) == ("", "", "")
        assert message.from_email == "alice@example.org"
        assert message.to_name == f"M {message.to_email[1]}"
        link = message.campaign_link
        assert (link.purpose, link.version, link.recipient.email) == (Purpose.INVITATION, campaign.template_version,
                                                                      message.to_email)  # fmt: skip
    assert len({m.public_id for m in messages}) == 5


def test_it_never_queues_a_second_invitation(campaign, members):
    _start(campaign)
    assert not start_campaign(campaign.pk, NOW)
    assert CampaignMessage.objects.filter(campaign=campaign).count() == 5


def test_it_narrows_lists_by_a_segment(workspace, alice, version, members):
    Contact.objects.filter(email="m1@example.com").update(name="Special")
    segment = Segment.objects.create(workspace=workspace, name="special", query='name = "Special"')
    campaign = create_campaign(
        workspace, alice, name="S", template_version=version, from_email="alice@example.org", lists=[members],
        segment=segment,
    )  # fmt: skip
    _start(campaign)
    assert list(Recipient.objects.filter(campaign=campaign).values_list("email", flat=True)) == ["m1@example.com"]


def test_it_takes_a_segment_alone_as_the_audience(workspace, alice, version, members):
    create_contact(workspace, "m9@example.com", name="Special")  # matches, but subscribed to nothing
    Contact.objects.filter(email="m2@example.com").update(name="Special")
    segment = Segment.objects.create(workspace=workspace, name="special", query='name = "Special"')
    campaign = create_campaign(
        workspace, alice, name="S", template_version=version, from_email="alice@example.org", segment=segment
    )
    _start(campaign)
    assert list(Recipient.objects.filter(campaign=campaign).values_list("email", flat=True)) == ["m2@example.com"]
    assert campaign.excluded_not_subscribed == 1


def test_it_starts_only_when_due(campaign):
    schedule_campaign(campaign, send_at=datetime(2026, 12, 24, 9), time_zone="Europe/Stockholm", now=NOW)
    assert not run_due(NOW)
    ran = run_due(datetime(2026, 12, 24, 8, 0, tzinfo=UTC))
    assert ran.started == [campaign.pk]
    assert Recipient.objects.filter(campaign=campaign).count() == 5


def test_it_counts_an_erased_contact_and_does_not_send_to_it(campaign, members):
    _start(campaign)
    erase_contact(Contact.objects.get(email="m0@example.com"), None)
    assert Recipient.objects.filter(campaign=campaign, contact__isnull=True).count() == 1


def test_public_ids_are_time_ordered_uuidv7_and_message_ids_follow_recipient_order(campaign, members):
    _start(campaign)
    links = list(
        CampaignMessage.objects.filter(campaign=campaign).select_related("message", "recipient").order_by("recipient")
    )
    message_ids = [link.message_id for link in links]
    assert message_ids == sorted(message_ids) and len(set(message_ids)) == 5
    public_ids = [link.message.public_id for link in links]
    assert len(set(public_ids)) == 5
    for public_id in public_ids:
        assert (public_id.version, public_id.variant) == (7, uuid.RFC_4122)
        assert public_id.int >> 80 == int(NOW.timestamp() * 1000)  # the first 48 bits: Unix time in ms
    # The 24-bit counter (12 bits before the variant, 12 after) is the message id.
    counters = [(p.int >> 64 & 0xFFF) << 12 | (p.int >> 48 & 0xFFF) for p in public_ids]
    assert counters == [i & 0xFFFFFF for i in message_ids]
    assert public_ids == sorted(public_ids)


def test_a_contact_that_left_one_list_but_is_on_another_is_invited(workspace, alice, version, members):
    others = create_list(workspace, "Others")
    m0 = Contact.objects.get(email="m0@example.com")
    Subscription.objects.create(contact=m0, contact_list=others, status=SubscriptionStatus.SUBSCRIBED)
    unsubscribe(m0, members)
    m1 = Contact.objects.get(email="m1@example.com")
    unsubscribe(m1, members)
    campaign = create_campaign(
        workspace, alice, name="Two lists", template_version=version, from_email="alice@example.org",
        lists=[members, others],
    )  # fmt: skip
    _start(campaign)
    emails = set(Recipient.objects.filter(campaign=campaign).values_list("email", flat=True))
    assert "m0@example.com" in emails and "m1@example.com" not in emails
    assert (campaign.audience, campaign.excluded_unsubscribed) == (4, 1)

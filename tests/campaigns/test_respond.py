"""Responses are recorded once per recipient; a receipt goes out exactly once per response."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.http import Http404

from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import CampaignMessage, Purpose, Recipient, Response
from openesp.campaigns.render import render_message
from openesp.campaigns.responses import recipient_for_contact, recipient_for_token, record_response
from openesp.campaigns.scheduling import start_campaign
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import make_token
from openesp.messaging.models import Category, Event, EventType, Message

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def started(campaign, workspace):
    campaign.receipt_version = create_template(workspace, name="Thanks", subject="Thanks {{ contact.name }}", text="t")
    campaign.save()
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def _recipient(campaign, email="m1@example.com") -> Recipient:
    return Recipient.objects.get(campaign=campaign, email=email)


def test_it_records_a_response_once_and_returns_the_first_on_repeat(started):
    recipient = _recipient(started)
    first, created = record_response(recipient, data={"answer": "yes"}, now=NOW)
    again, created_again = record_response(recipient, data={"answer": "no"})
    assert (created, created_again, again.pk, again.data) == (True, False, first.pk, {"answer": "yes"})
    assert Recipient.objects.get(pk=recipient.pk).responded_at == NOW
    assert Response.objects.filter(campaign=started).count() == 1


def test_it_records_the_response_as_an_event_on_the_recipients_messages(started):
    recipient = _recipient(started)
    response, _created = record_response(recipient, now=NOW)
    invitation = Message.objects.get(campaign_link__recipient=recipient, campaign_link__purpose=Purpose.INVITATION)
    event = Event.objects.get(message=invitation, type=EventType.RESPONDED)
    assert event.data == {"response": response.pk}


def test_it_queues_exactly_one_receipt_per_response(started):
    recipient = _recipient(started)
    record_response(recipient, now=NOW)
    record_response(recipient, now=NOW)
    receipts = Message.objects.filter(campaign_link__purpose=Purpose.RECEIPT)
    assert receipts.count() == 1
    receipt = receipts.get()
    assert (receipt.category, receipt.to_email) == (Category.RESPONSE_RECEIPT, "m1@example.com")
    assert render_message(receipt).subject == "Thanks M 1"


def test_it_queues_no_receipt_without_a_receipt_template(campaign):
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    record_response(_recipient(campaign), now=NOW)
    assert not CampaignMessage.objects.filter(purpose=Purpose.RECEIPT).exists()


def test_it_finds_the_recipient_by_token_or_contact(started):
    recipient = _recipient(started)
    assert recipient_for_token(make_token(recipient.pk)) == recipient
    assert recipient_for_contact(started, recipient.contact_id) == recipient
    token = make_token(recipient.pk)
    tampered = token[:-1] + ("1" if token.endswith("0") else "0")  # never the token itself
    for bad in ("", "x.y", tampered, make_token(10**9)):
        with pytest.raises(Http404):
            recipient_for_token(bad)
    with pytest.raises(Http404):
        recipient_for_contact(started, 2**70)

"""Two workers refilling the same campaign at the same moment never queue a chunk twice
(PostgreSQL: the campaign's row is taken with ``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from openesp.campaigns.invitations import refill
from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.scheduling import run_due
from openesp.messaging.models import Message
from tests.campaigns.chunking import NOW, drain, started_campaign
from tests.races import at_once

CHUNK = 25
CONTACTS = 240

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: there is no race to lose"
)


@pytest.fixture
def campaign(settings) -> Campaign:
    settings.OPENESP_CAMPAIGN_CHUNK = CHUNK
    return started_campaign(CONTACTS)


@pytest.mark.django_db(transaction=True)
def test_two_refills_at_once_queue_each_chunk_once(campaign):
    rounds = 0
    while Campaign.objects.get(pk=campaign.pk).uninvited:
        rounds += 1
        assert rounds <= CONTACTS // CHUNK + 1
        drain(campaign)
        queued = at_once(lambda: refill(campaign.pk, NOW), workers=3)
        # One of them queued the chunk; the others found the row taken, or the chunk queued.
        assert sorted(queued)[:-1] == [0, 0] and sorted(queued)[-1] > 0
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    recipients = Recipient.objects.filter(campaign=campaign).values_list("pk", flat=True)
    assert Counter(links.values_list("recipient_id", flat=True)) == Counter(recipients)
    assert Message.objects.filter(campaign_link__campaign=campaign).count() == CONTACTS


@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_on_a_sending_campaign_invite_everyone_once(campaign):
    for _round in range(CONTACTS // CHUNK + 2):
        if Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT:
            break
        drain(campaign)
        at_once(lambda: run_due(NOW).invited)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    assert sorted(links.values_list("recipient_id", flat=True)) == sorted(
        Recipient.objects.filter(campaign=campaign).values_list("pk", flat=True)
    )

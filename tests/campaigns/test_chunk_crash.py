"""A process killed (SIGKILL) in the middle of queueing a chunk of invitations loses nothing and
repeats nothing: the chunk's rows and the cursor are written in one transaction."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from openesp.campaigns.invitations import refill
from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.scheduling import run_due
from openesp.messaging.models import Message
from tests.campaigns.chunking import drain, started_campaign
from tests.delivery.test_crash import REPO
from tests.processes import HANG, run_database_url

CHUNK = 40
CONTACTS = 150


@pytest.fixture
def campaign(settings) -> Campaign:
    settings.OPENESP_CAMPAIGN_CHUNK = CHUNK
    return started_campaign(CONTACTS)


def _cursor(campaign: Campaign) -> tuple[int, int, int]:
    row = Campaign.objects.get(pk=campaign.pk)
    return row.invited_through, row.uninvited, row.invitations_from


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_mid_chunk_leaves_neither_the_chunk_nor_the_cursor(campaign, processes, tmp_path):
    drain(campaign)
    before = _cursor(campaign)
    marker = tmp_path / "half-done"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(
        DATABASE_URL=run_database_url(),
        OPENESP_DATA_DIR=str(django_settings.DATA_DIR),
        OPENESP_CAMPAIGN_CHUNK=str(CHUNK),
        OPENESP_LOG_LEVEL="WARNING",
    )
    child = processes.start([sys.executable, "-m", "tests.campaigns.chunk_child", str(campaign.pk), str(marker)],
                            cwd=REPO, env=env)  # fmt: skip
    deadline = time.monotonic() + HANG  # a hang detector, not a speed check
    while not marker.exists():
        assert child.poll() is None, "the child ended before the chunk was written"
        assert time.monotonic() < deadline, "the child did not reach the middle of the chunk"
        time.sleep(0.05)
    assert marker.read_text() == str(CHUNK)  # written, not committed
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=HANG)

    assert _cursor(campaign) == before
    assert CampaignMessage.objects.filter(campaign=campaign).count() == CHUNK  # the first chunk only
    assert Message.objects.filter(campaign_link__campaign=campaign).count() == CHUNK
    # Another worker takes over where the killed one started.
    for _round in range(CONTACTS // CHUNK + 2):
        drain(campaign)
        refill(campaign.pk, timezone.now())
    run_due(timezone.now())
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    recipients = Recipient.objects.filter(campaign=campaign).values_list("pk", flat=True)
    assert Counter(links.values_list("recipient_id", flat=True)) == Counter(recipients)
    assert Message.objects.filter(campaign_link__campaign=campaign).count() == CONTACTS
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT

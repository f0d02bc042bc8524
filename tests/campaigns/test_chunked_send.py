"""Workers send a campaign whose invitations are queued in chunks: the workers' own scheduler
queues each next chunk as they drain the queue (decision 022), also when worker processes are
killed (SIGKILL) while they send and queue. Real workers, a real SMTP sink on loopback."""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.db import connection

from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.messaging.models import Category
from tests.campaigns.sending import delivered, make_audience, make_campaign, per_address
from tests.campaigns.test_worker_scheduler import _all_sent, _owner, _run_workers
from tests.delivery.test_crash import BATCH, REPO
from tests.processes import HANG, Processes, run_database_url, wait_until

CHUNK = 60


@pytest.fixture
def relay(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    settings.OPENESP_CAMPAIGN_CHUNK = CHUNK
    return smtp_server_no_tls


@pytest.mark.django_db(transaction=True)
def test_running_workers_queue_the_chunks_themselves(relay):
    alice, workspace = _owner()
    audience = make_audience(workspace, 400)
    campaign = make_campaign(workspace, alice, audience)
    workers = 2 if connection.vendor == "postgresql" else 1
    _run_workers(workers, lambda: _all_sent(campaign), then=lambda: schedule_campaign(campaign))
    assert per_address(delivered(relay), Category.INVITATION) == Counter(audience.eligible)
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    assert links.count() == len(audience.eligible) > 5 * CHUNK


def _start_worker(processes: Processes, port: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(
        DATABASE_URL=run_database_url(),
        OPENESP_DATA_DIR=str(django_settings.DATA_DIR),
        OPENESP_DEFAULT_PROVIDER=f"smtp://127.0.0.1:{port}?security=none",
        OPENESP_CAMPAIGN_CHUNK=str(CHUNK),
        OPENESP_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "openesp", "worker", "--batch-size", str(BATCH), "--lease", "10"]
    return processes.start([*command, "--connections", "4"], cwd=REPO, env=env)


@pytest.mark.django_db(transaction=True)
def test_killed_workers_lose_and_queue_twice_no_chunk(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    alice, workspace = _owner()
    audience = make_audience(workspace, 900)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    workers = [_start_worker(processes, sink.port) for _ in range(2 if connection.vendor == "postgresql" else 1)]
    try:
        for kill in range(3):
            target = len(sink.messages) + 150
            wait_until(lambda t=target: len(sink.messages) >= t, f"invitations before kill {kill + 1}")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=HANG)
            workers[0] = _start_worker(processes, sink.port)
        wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT, "campaign sent")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=HANG)
    links = CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION)
    recipients = Recipient.objects.filter(campaign=campaign).values_list("pk", flat=True)
    assert Counter(links.values_list("recipient_id", flat=True)) == Counter(recipients)  # each queued once
    invitations = per_address(delivered(sink), Category.INVITATION)
    assert set(invitations) == audience.eligible  # nothing lost
    # Only what a killed worker had in flight may arrive twice (two batches per kill).
    assert sum(n - 1 for n in invitations.values()) <= 3 * 2 * BATCH
    assert all(w.returncode == 0 for w in workers)

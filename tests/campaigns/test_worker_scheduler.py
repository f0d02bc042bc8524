"""Running workers run the campaign scheduler themselves: on their idle tick, and between batches.

``Worker.run`` is the loop of ``openesp worker`` and of the worker inside ``openesp serve``.
Nothing here calls ``run_due``: a campaign scheduled for now is started, sent and marked sent
by the workers alone; two workers racing (PostgreSQL) start each campaign once and send each
invitation once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import Campaign, CampaignStatus
from openesp.delivery.worker import Worker
from openesp.messaging.models import Category, Message
from tests.campaigns.sending import delivered, make_audience, make_campaign, per_address
from tests.processes import HANG


@pytest.fixture
def relay(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls


def _owner() -> tuple[User, Workspace]:
    alice = User.objects.create_user("alice@example.org", "x" * 12, email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    return alice, Workspace.objects.create(organization=org, name="W")


def _run_workers(count: int, until, then=lambda: None) -> None:
    """``count`` workers, each in its own thread as in its own process; once they run, ``then()``;
    until ``until()`` holds."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            Worker(f"w{n}", batch_size=40, pool_size=2).run(stop, idle_sleep=0.05)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        then()
        deadline = time.monotonic() + HANG  # a hang detector, not a speed check
        while not until():
            assert time.monotonic() < deadline, "the workers did not finish"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=HANG)
    assert not errors, errors


def _all_sent(*campaigns: Campaign) -> bool:
    return all(Campaign.objects.get(pk=c.pk).status == CampaignStatus.SENT for c in campaigns)


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_starts_sends_and_finishes_a_campaign_by_itself(relay):
    alice, workspace = _owner()
    audience = make_audience(workspace, 120)
    campaign = make_campaign(workspace, alice, audience)
    # Scheduled while the worker is idle: its next tick starts the campaign.
    _run_workers(1, lambda: _all_sent(campaign), then=lambda: schedule_campaign(campaign))
    assert per_address(delivered(relay), Category.INVITATION) == Counter(audience.eligible)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: no race to lose")
@pytest.mark.django_db(transaction=True)
def test_two_workers_start_each_campaign_once_and_send_each_invitation_once(relay):
    alice, workspace = _owner()
    audience = make_audience(workspace, 150)
    campaigns = [make_campaign(workspace, alice, audience, name=f"Spring {n}") for n in range(3)]
    for campaign in campaigns:
        schedule_campaign(campaign)
    _run_workers(2, lambda: _all_sent(*campaigns))
    mails = delivered(relay)
    for campaign in campaigns:  # each campaign reached each address once, by one worker or the other
        ids = {
            str(i) for i in Message.objects.filter(campaign_link__campaign=campaign).values_list("public_id", flat=True)
        }
        assert per_address([m for m in mails if m.public_id in ids], Category.INVITATION) == Counter(audience.eligible)
    assert len(mails) == 3 * len(audience.eligible)

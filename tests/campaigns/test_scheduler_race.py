"""Two workers running the scheduler at the same moment: every job runs exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.scheduling import Ran, run_due
from openesp.campaigns.templates import create_template

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: there is no race to lose"
)


def _race(now: datetime, workers: int = 2) -> list[Ran]:
    barrier = threading.Barrier(workers)
    results: list[Ran] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(run_due(now))
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == workers
    return results


@pytest.mark.django_db(transaction=True)
def test_it_starts_a_campaign_once_when_two_workers_race():
    alice = User.objects.create_user("alice@example.org", "x" * 12, email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="W")
    members = create_list(workspace, "Members")
    for i in range(300):
        create_contact(workspace, f"r{i}@example.com", lists=[members])
    version = create_template(workspace, name="T", subject="s", text="t")
    campaigns = [
        create_campaign(workspace, alice, name=f"C{n}", template_version=version, from_email=alice.email,
                        lists=[members])
        for n in range(3)
    ]  # fmt: skip
    for campaign in campaigns:
        schedule_campaign(campaign, now=NOW)

    results = _race(NOW)
    started = sorted(pk for ran in results for pk in ran.started)
    assert started == sorted(c.pk for c in campaigns)  # each exactly once, by one worker or the other
    for campaign in campaigns:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.SENDING
        assert Recipient.objects.filter(campaign=campaign).count() == 300
        assert CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION).count() == 300

    reminders = [create_reminder(c, alice, version=version, after_days=0, now=NOW) for c in campaigns]
    results = _race(NOW)
    assert sorted(pk for ran in results for pk in ran.reminders) == sorted(r.pk for r in reminders)
    for reminder in reminders:
        assert CampaignMessage.objects.filter(reminder=reminder).count() == 300

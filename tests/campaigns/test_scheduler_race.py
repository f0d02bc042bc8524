"""Two workers running the scheduler at the same moment: every job runs exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from tests.races import at_once

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: there is no race to lose"
)


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

    results = at_once(lambda: run_due(NOW))
    started = sorted(pk for ran in results for pk in ran.started)
    assert started == sorted(c.pk for c in campaigns)  # each exactly once, by one worker or the other
    for campaign in campaigns:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.SENDING
        assert Recipient.objects.filter(campaign=campaign).count() == 300
        assert CampaignMessage.objects.filter(campaign=campaign, purpose=Purpose.INVITATION).count() == 300

    reminders = [create_reminder(c, alice, version=version, after_days=0, now=NOW) for c in campaigns]
    results = at_once(lambda: run_due(NOW))
    assert sorted(pk for ran in results for pk in ran.reminders) == sorted(r.pk for r in reminders)
    for reminder in reminders:
        assert CampaignMessage.objects.filter(reminder=reminder).count() == 300

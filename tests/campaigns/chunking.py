"""A campaign started with its invitations queued in chunks, for the tests of chunked queueing
that race refills or kill a process in the middle of one (decision 022)."""

from __future__ import annotations

from datetime import UTC, datetime

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import Campaign
from openesp.campaigns.scheduling import start_campaign
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Message, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def started_campaign(contacts: int) -> Campaign:
    """A campaign to ``contacts`` contacts, started at NOW: its first chunk queued (the chunk
    size is the caller's ``settings.OPENESP_CAMPAIGN_CHUNK``)."""
    alice = User.objects.create_user("alice@example.org", "x" * 12, email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="W")
    members = create_list(workspace, "Members")
    for i in range(contacts):
        create_contact(workspace, f"r{i}@example.com", lists=[members])
    version = create_template(workspace, name="T", subject="s", text="t")
    campaign = create_campaign(
        workspace, alice, name="C", template_version=version, from_email=alice.email, lists=[members]
    )
    schedule_campaign(campaign, now=NOW)
    assert start_campaign(campaign.pk, NOW)
    return campaign


def drain(campaign: Campaign) -> None:
    """Mark the campaign's queued messages sent, as a worker would, so that the next chunk is due."""
    Message.objects.filter(campaign_link__campaign=campaign, status=Status.QUEUED).update(status=Status.SENT)

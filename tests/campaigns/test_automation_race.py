"""Two workers running the automation and category-message jobs at once: each entry is sent
once, each subscription enters once, a category message starts once (PostgreSQL: row locks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.audience.categories import create_category, subscribe_category
from openesp.campaigns.automations import AutomationFields, create_automation, trigger_automation
from openesp.campaigns.category_messages import create_category_message
from openesp.campaigns.models import AutomationEntry, CampaignMessage, EntryStatus, Recipient, TriggerKind
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from tests.races import at_once

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer in at a time: there is no race to lose"
)


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_automation_entry_and_category_message_once():
    alice = User.objects.create_user("alice@example.org", "x" * 12, email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="W")
    version = create_template(workspace, name="T", subject="s", text="t")
    members = create_list(workspace, "Members")
    topic = create_category(workspace, "News")
    by_api = create_automation(
        workspace, alice, AutomationFields(name="A", trigger=TriggerKind.API, version=version, from_email=alice.email)
    )
    fields = AutomationFields(
        name="L", trigger=TriggerKind.LIST, trigger_list=members, version=version, from_email=alice.email
    )
    by_list = create_automation(workspace, alice, fields)
    now = timezone.now()
    for i in range(300):
        contact = create_contact(workspace, f"r{i}@example.com", lists=[members])
        subscribe_category(contact, topic)
        trigger_automation(by_api, contact, key="k", now=now)
    news = create_category_message(
        workspace, alice, topic=topic, version=version, from_email=alice.email,
        send_at=(now + timedelta(minutes=5)).replace(tzinfo=None), time_zone="UTC", now=now,
    )  # fmt: skip
    later = now + timedelta(minutes=10)

    results = at_once(lambda: run_due(later))
    assert sorted(pk for ran in results for pk in ran.category_messages) == [news.campaign_id]
    assert sum(ran.entered for ran in results) == 300  # the list automation's subscribers, entered once
    at_once(lambda: run_due(later + timedelta(minutes=1)))
    for automation in (by_api, by_list):
        entries = AutomationEntry.objects.filter(automation=automation)
        assert entries.filter(status=EntryStatus.SENT).count() == 300
        assert Recipient.objects.filter(campaign=automation.campaign).count() == 300
        assert CampaignMessage.objects.filter(campaign=automation.campaign).count() == 300
    assert CampaignMessage.objects.filter(campaign=news.campaign).count() == 300

"""End to end: the delivery worker (which runs the scheduler itself) sends automation invitations,
their reminders and receipts, and a category message, rendered per recipient into a real SMTP
sink, each address counted."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.audience.actions import create_contact, subscribe
from openesp.audience.categories import create_category, subscribe_category
from openesp.audience.models import SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.automations import AutomationFields, create_automation, trigger_automation
from openesp.campaigns.category_messages import create_category_message
from openesp.campaigns.models import Automation, AutomationEntry, Recipient, TriggerKind
from openesp.campaigns.responses import record_response
from openesp.campaigns.templates import create_template
from openesp.delivery.worker import Worker
from openesp.messaging.models import Category
from tests.campaigns.sending import delivered, invitation_template, make_audience, per_address

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls


@pytest.fixture
def worker():
    w = Worker("automation-worker", batch_size=100, pool_size=4, schedule_every=0.0)
    yield w
    w.close()


def drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def test_automation_invitations_reminders_and_receipts_reach_their_addresses_once(alice, workspace, sink, worker):
    thanks = create_template(
        workspace, name="Thanks", subject="Thanks {{ contact.name }}", text="Thank you", actor=alice
    )
    nudge = create_template(workspace, name="Nudge", subject="Still there?", text="{{ response_url }}", actor=alice)
    automation = create_automation(
        workspace,
        alice,
        AutomationFields(
            name="Orders",
            trigger=TriggerKind.API,
            version=invitation_template(workspace, alice),
            from_email=alice.email,
            receipt_version=thanks,
            reminder_version=nudge,
            reminder_after_days=2,
        ),
    )
    contacts = [
        create_contact(workspace, f"p{i}@example.net", name=f"P {i}", attributes={"plan": "gold"}) for i in range(20)
    ]
    add_suppression(workspace, "p19@example.net", SuppressionReason.HARD_BOUNCE, source="api")
    for contact in contacts:
        trigger_automation(automation, contact, key="order-1")
        trigger_automation(automation, contact, key="order-1")  # a retry: the same occurrence
    drain(worker)

    mails = delivered(sink)
    eligible = {f"p{i}@example.net" for i in range(19)}
    assert per_address(mails, Category.INVITATION_AUTOMATION) == Counter(eligible)
    by_address = {m.to: m for m in mails}
    assert by_address["p3@example.net"].mail["Subject"] == "Hello P 3"
    assert "List-Unsubscribe" in by_address["p3@example.net"].mail
    skipped = AutomationEntry.objects.get(contact__email="p19@example.net")
    assert skipped.detail == "the address is suppressed"

    # The first ten respond through their own links: a receipt each.
    for address in sorted(eligible)[:10]:
        record_response(Recipient.objects.get(pk=by_address[address].recipient_id()), source="link")
    drain(worker)
    assert per_address(delivered(sink), Category.RESPONSE_RECEIPT) == Counter(sorted(eligible)[:10])

    # Two days on (the entries' reminders made due now), the reminder reaches exactly the other nine, once.
    AutomationEntry.objects.update(reminder_due_at=timezone.now() - timedelta(seconds=1))
    drain(worker)
    drain(worker)
    assert per_address(delivered(sink), Category.REMINDER_SCHEDULED) == Counter(sorted(eligible)[10:])


def test_a_list_automation_and_a_category_message_are_sent_by_the_worker(alice, workspace, sink, worker):
    audience = make_audience(workspace, 60)
    news = create_category(workspace, "News")
    for contact in audience.members.subscriptions.select_related("contact"):
        subscribe_category(contact.contact, news)
    create_automation(
        workspace,
        alice,
        AutomationFields(
            name="Welcome",
            trigger=TriggerKind.LIST,
            trigger_list=audience.members,
            version=invitation_template(workspace, alice, "Welcome"),
            from_email=alice.email,
        ),
    )
    newcomer = create_contact(workspace, "new@example.net", name="New", attributes={"plan": "basic"})
    subscribe(newcomer, audience.members)
    create_category_message(
        workspace, alice, topic=news, version=invitation_template(workspace, alice, "News mail"), from_email=alice.email
    )
    # The worker's scheduler looks at subscriptions at most every 15 seconds: as if that had passed.
    Automation.objects.update(subscriptions_seen_at=timezone.now() - timedelta(minutes=1))
    drain(worker)

    mails = delivered(sink)
    assert per_address(mails, Category.CATEGORY_MESSAGE) == Counter(audience.eligible)
    assert per_address(mails, Category.INVITATION_AUTOMATION) == Counter({"new@example.net": 1})

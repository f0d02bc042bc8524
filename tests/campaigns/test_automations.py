"""Automations: triggers (list subscription, date attribute in the contact's time zone, API call),
once per occurrence, the delay, skips, responses, receipts and reminders, pause, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from openesp.audience.actions import create_contact, create_list, subscribe, unsubscribe
from openesp.audience.consent import Consent
from openesp.audience.doubleoptin import confirm
from openesp.audience.gdpr import erase_contact
from openesp.audience.models import SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.access import campaigns_for
from openesp.campaigns.automation_jobs import enter_dates
from openesp.campaigns.automations import (
    AutomationFields,
    create_automation,
    delete_automation,
    pause_automation,
    resume_automation,
    trigger_automation,
    update_automation,
)
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import (
    AutomationEntry,
    CampaignMessage,
    EntryStatus,
    Purpose,
    Recipient,
    TriggerKind,
)
from openesp.campaigns.render import Held, RenderedMessage, render_messages
from openesp.campaigns.responses import record_response
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import recipient_id_for
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Category, Message, Status


def _fields(version, **more) -> AutomationFields:
    values = {"name": "Welcome", "trigger": TriggerKind.API, "version": version, "from_email": "alice@example.org"}
    values.update(more)
    return AutomationFields(**values)


def _messages(automation, purpose=Purpose.INVITATION):
    ids = CampaignMessage.objects.filter(campaign=automation.campaign, purpose=purpose).values("message_id")
    return list(Message.objects.filter(id__in=ids).order_by("id"))


@pytest.fixture
def welcome(workspace):
    return create_list(workspace, "Newsletter")


# --- the list trigger --------------------------------------------------------------------------


def test_a_new_subscriber_enters_once_and_gets_the_invitation_after_the_delay(workspace, alice, version, welcome):
    early = create_contact(workspace, "early@example.com", lists=[welcome])  # before the automation: not entered
    automation = create_automation(
        workspace, alice, _fields(version, trigger=TriggerKind.LIST, trigger_list=welcome, delay_minutes=60)
    )
    contact = create_contact(workspace, "new@example.com", name="New", lists=[welcome])
    now = timezone.now() + timedelta(minutes=1)

    ran = run_due(now)
    assert ran.entered == 1 and ran.entries_sent == 0  # entered, waiting for its delay
    entry = AutomationEntry.objects.get(automation=automation)
    occurrence = f"subscription:{contact.subscriptions.get().pk}"
    assert (entry.contact_id, entry.occurrence, entry.status) == (contact.pk, occurrence, EntryStatus.WAITING)
    assert not AutomationEntry.objects.filter(contact=early).exists()

    ran = run_due(now + timedelta(minutes=61))
    assert ran.entries_sent == 1
    (message,) = _messages(automation)
    assert (message.category, message.to_email, message.status, message.html_body) == (
        Category.INVITATION_AUTOMATION, "new@example.com", Status.QUEUED, ""
    )  # fmt: skip
    rendered = render_messages([message])[message.pk]
    assert isinstance(rendered, RenderedMessage) and rendered.subject == "Hello New"
    recipient = Recipient.objects.get(pk=recipient_id_for(rendered.html.split("/r/")[1].split("/")[0]))
    assert recipient.entry_id == entry.pk and recipient.campaign_id == automation.campaign_id

    # Leaving and coming back is the same subscription: no second entry; nothing runs twice.
    unsubscribe(contact, welcome)
    subscribe(contact, welcome)
    run_due(now + timedelta(minutes=62))
    run_due(now + timedelta(minutes=63))
    assert AutomationEntry.objects.filter(automation=automation).count() == 1
    assert len(_messages(automation)) == 1


def test_a_double_opt_in_subscriber_enters_when_confirmed(workspace, alice, version):
    doi = create_list(workspace, "Careful", double_opt_in=True)
    automation = create_automation(workspace, alice, _fields(version, trigger=TriggerKind.LIST, trigger_list=doi))
    contact = create_contact(workspace, "doi@example.com", lists=[doi])
    run_due(timezone.now() + timedelta(minutes=1))
    assert not AutomationEntry.objects.filter(automation=automation).exists()
    confirm(contact.subscriptions.get(), Consent())
    ran = run_due(timezone.now() + timedelta(minutes=2))
    assert (ran.entered, ran.entries_sent) == (1, 1)


def test_an_entry_whose_contact_left_or_is_suppressed_is_skipped_with_the_reason(workspace, alice, version, welcome):
    automation = create_automation(
        workspace, alice, _fields(version, trigger=TriggerKind.LIST, trigger_list=welcome, delay_minutes=10)
    )
    left = create_contact(workspace, "left@example.com", lists=[welcome])
    blocked = create_contact(workspace, "blocked@example.com", lists=[welcome])
    erased = create_contact(workspace, "erased@example.com", lists=[welcome])
    stays = create_contact(workspace, "stays@example.com", lists=[welcome])
    now = timezone.now() + timedelta(minutes=1)
    assert run_due(now).entered == 4
    unsubscribe(left, welcome)
    add_suppression(workspace, blocked.email, SuppressionReason.MANUAL)
    erase_contact(erased, alice)

    assert run_due(now + timedelta(minutes=11)).entries_sent == 1
    details = dict(AutomationEntry.objects.filter(automation=automation).values_list("contact__email", "detail"))
    assert details == {
        "left@example.com": "the contact is no longer subscribed to the list",
        "blocked@example.com": "the address is suppressed",
        None: "the contact was erased",
        "stays@example.com": "",
    }
    assert [m.to_email for m in _messages(automation)] == [stays.email]
    assert Recipient.objects.filter(campaign=automation.campaign).count() == 1


# --- the date trigger --------------------------------------------------------------------------


def test_a_date_trigger_fires_on_the_contacts_own_local_day_once(workspace, alice, version, welcome):
    created = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    automation = create_automation(
        workspace, alice,
        _fields(version, name="Renewal", trigger=TriggerKind.DATE, date_attribute="renewal_date", offset_days=-14),
        now=created,
    )  # fmt: skip
    # Renewal on 2026-12-24: the invitation is due on 2026-12-10, local time.
    attributes = {"renewal_date": "2026-12-24"}
    auckland, la = (
        create_contact(workspace, email, time_zone=zone, attributes=attributes, lists=[welcome])
        for email, zone in (("nz@example.com", "Pacific/Auckland"), ("la@example.com", "America/Los_Angeles"))
    )
    create_contact(workspace, "other@example.com", attributes={"renewal_date": "2027-03-01"}, lists=[welcome])
    create_contact(workspace, "past@example.com", attributes={"renewal_date": "2026-11-20"}, lists=[welcome])
    create_contact(workspace, "garbage@example.com", attributes={"renewal_date": "soon"}, lists=[welcome])

    # 2026-12-09 12:00 UTC: 01:00 on the 10th in Auckland (UTC+13), the 9th in Los Angeles.
    first = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    assert run_due(first).entered == 1
    assert list(AutomationEntry.objects.values_list("contact_id", "occurrence")) == [
        (auckland.pk, "renewal_date:2026-12-24")
    ]
    # Within the hour the automation is not looked at again; after it, Auckland is not entered twice.
    assert enter_dates(automation.pk, first + timedelta(minutes=30)) == 0
    run_due(first + timedelta(hours=2))
    assert AutomationEntry.objects.count() == 1
    # 2026-12-10 09:00 UTC: 01:00 on the 10th in Los Angeles (UTC-8).
    run_due(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    entered = sorted(AutomationEntry.objects.values_list("contact__email", flat=True))
    assert entered == sorted([auckland.email, la.email])
    run_due(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))
    assert AutomationEntry.objects.count() == 2
    assert sorted(m.to_email for m in _messages(automation)) == sorted([la.email, auckland.email])
    entry = AutomationEntry.objects.get(contact=la)
    assert entry.data == {"date": "2026-12-24"}


def test_a_date_trigger_catches_up_after_a_stopped_worker_but_not_before_it_existed(workspace, alice, version, welcome):
    created = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    create_automation(
        workspace, alice,
        _fields(version, name="Renewal", trigger=TriggerKind.DATE, date_attribute="renewal_date", offset_days=0),
        now=created,
    )  # fmt: skip
    create_contact(workspace, "a@example.com", attributes={"renewal_date": "2026-12-03"}, lists=[welcome])
    create_contact(workspace, "old@example.com", attributes={"renewal_date": "2026-11-29"}, lists=[welcome])
    # Nothing ran between the 1st and the 5th.
    assert run_due(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)).entered == 1
    assert list(AutomationEntry.objects.values_list("contact__email", flat=True)) == ["a@example.com"]


def test_a_date_trigger_names_the_attribute_in_any_case(workspace, alice, version, welcome):
    # Attribute names compare folded (docs/decisions/009-attribute-keys-fold-case.md).
    create_contact(workspace, "a@example.com", attributes={"renewal_date": "2026-12-03"}, lists=[welcome])
    create_automation(
        workspace, alice,
        _fields(version, name="Renewal", trigger=TriggerKind.DATE, date_attribute="Renewal_Date", offset_days=0),
        now=datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    )  # fmt: skip
    assert run_due(datetime(2026, 12, 3, 12, 0, tzinfo=UTC)).entered == 1
    assert list(AutomationEntry.objects.values_list("occurrence", flat=True)) == ["Renewal_Date:2026-12-03"]


# --- the API trigger ---------------------------------------------------------------------------


def test_an_api_trigger_is_once_per_key_and_carries_its_data_into_the_template(workspace, alice):
    version = create_template(
        workspace, name="Order", subject="Order {{ trigger.data.get('order', '?') }}", text="{{ response_url }}"
    )
    automation = create_automation(workspace, alice, _fields(version, name="Orders"))
    contact = create_contact(workspace, "buyer@example.com")
    now = timezone.now()
    first, created = trigger_automation(automation, contact, key="order-17", data={"order": "17"}, now=now)
    again, created_again = trigger_automation(automation, contact, key="order-17", data={"order": "99"}, now=now)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    trigger_automation(automation, contact, now=now)  # no key: an occurrence of its own
    trigger_automation(automation, contact, now=now)
    assert AutomationEntry.objects.filter(automation=automation).count() == 3

    assert run_due(now).entries_sent == 3
    subjects = sorted(r.subject for r in render_messages(_messages(automation)).values())  # type: ignore[union-attr]
    assert subjects == ["Order 17", "Order ?", "Order ?"]
    # One recipient (and response token) per occurrence.
    assert Recipient.objects.filter(campaign=automation.campaign, contact=contact).count() == 3


def test_only_an_api_automation_is_triggered_by_the_api(workspace, alice, version, welcome):
    automation = create_automation(workspace, alice, _fields(version, trigger=TriggerKind.LIST, trigger_list=welcome))
    contact = create_contact(workspace, "x@example.com")
    with pytest.raises(Conflict, match="not by the API"):
        trigger_automation(automation, contact)
    api = create_automation(workspace, alice, _fields(version, name="Other"))
    with pytest.raises(InvalidInput) as exc:
        trigger_automation(api, contact, key="")
    assert exc.value.problems[0].field == "key"


# --- creating and changing -----------------------------------------------------------------------


def test_wrong_fields_are_named_together(workspace, alice, version):
    with pytest.raises(InvalidInput) as exc:
        create_automation(
            workspace, alice,
            AutomationFields(name="", trigger="date_attribute", version=version, from_email="nobody@elsewhere.example",
                             offset_days=99999, delay_minutes=-1, response_url="ftp://x"),
        )  # fmt: skip
    fields = {p.field for p in exc.value.problems}
    assert fields == {"name", "date_attribute", "offset_days", "delay_minutes", "from", "response_url"}
    create_automation(workspace, alice, _fields(version))
    with pytest.raises(InvalidInput) as exc:
        create_automation(workspace, alice, _fields(version))
    assert [p.field for p in exc.value.problems] == ["name"]
    with pytest.raises(InvalidInput) as exc:
        create_automation(workspace, alice, _fields(version, name="L", trigger=TriggerKind.LIST))
    assert [p.field for p in exc.value.problems] == ["list_id"]


def test_the_container_is_not_a_campaign_of_the_workspace(workspace, alice, version, campaign):
    automation = create_automation(workspace, alice, _fields(version))
    assert list(campaigns_for(alice)) == [campaign]
    assert automation.campaign.kind == "automation"


def test_a_new_template_version_applies_to_entries_sent_afterwards(workspace, alice, version):
    automation = create_automation(workspace, alice, _fields(version))
    contact = create_contact(workspace, "c@example.com", name="C")
    newer = create_template(workspace, name="Newer", subject="Newer {{ contact.name }}", text="t")
    update_automation(automation, alice, AutomationFields(version=newer, delay_minutes=5))
    now = timezone.now()
    trigger_automation(automation, contact, now=now)
    run_due(now + timedelta(minutes=6))
    (message,) = _messages(automation)
    assert render_messages([message])[message.pk].subject == "Newer C"  # type: ignore[union-attr]


# --- responses, receipts, reminders --------------------------------------------------------------


def test_responses_receipts_and_reminders_work_for_automation_invitations(workspace, alice, version):
    thanks = create_template(workspace, name="Thanks", subject="Thanks", text="thanks")
    nudge = create_template(workspace, name="Nudge", subject="Still there?", text="{{ response_url }}")
    automation = create_automation(
        workspace, alice,
        _fields(version, receipt_version=thanks, reminder_version=nudge, reminder_after_days=3,
                response_url="https://survey.example/form"),
    )  # fmt: skip
    answers = create_contact(workspace, "answers@example.com")
    silent = create_contact(workspace, "silent@example.com")
    now = timezone.now()
    for contact in (answers, silent):
        trigger_automation(automation, contact, now=now)
    run_due(now)
    response, created = record_response(Recipient.objects.get(contact=answers), data={"ok": 1})
    assert created and response.campaign_id == automation.campaign_id
    receipts = _messages(automation, Purpose.RECEIPT)
    assert [(m.to_email, m.category) for m in receipts] == [("answers@example.com", Category.RESPONSE_RECEIPT)]

    assert run_due(now + timedelta(days=2)).automation_reminders == 0
    assert run_due(now + timedelta(days=3, minutes=1)).automation_reminders == 1
    assert run_due(now + timedelta(days=4)).automation_reminders == 0
    reminders = _messages(automation, Purpose.REMINDER)
    assert [(m.to_email, m.category) for m in reminders] == [("silent@example.com", Category.REMINDER_SCHEDULED)]
    rendered = render_messages(reminders)[reminders[0].pk]
    assert isinstance(rendered, RenderedMessage) and rendered.subject == "Still there?"


# --- pausing and deleting ------------------------------------------------------------------------


def test_a_paused_automation_records_entries_and_sends_them_when_resumed(workspace, alice, version):
    automation = create_automation(workspace, alice, _fields(version))
    contact = create_contact(workspace, "p@example.com")
    now = timezone.now()
    trigger_automation(automation, contact, now=now)
    run_due(now)
    (queued,) = _messages(automation)
    pause_automation(automation, now=now)
    with pytest.raises(Conflict):
        pause_automation(automation, now=now)
    assert isinstance(render_messages([queued])[queued.pk], Held)
    trigger_automation(automation, contact, now=now)
    assert run_due(now + timedelta(minutes=1)).entries_sent == 0
    resume_automation(automation, now=now + timedelta(minutes=2))
    assert run_due(now + timedelta(minutes=3)).entries_sent == 1
    assert automation.campaign.status == "sending"
    assert run_due(now + timedelta(minutes=4)).finished == []  # an automation's container never finishes


def test_deleting_an_automation_takes_its_queued_mail_off_the_queue(workspace, alice, version):
    automation = create_automation(workspace, alice, _fields(version))
    now = timezone.now()
    trigger_automation(automation, create_contact(workspace, "d@example.com"), now=now)
    run_due(now)
    (queued,) = _messages(automation)
    delete_automation(automation, now=now)
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED
    assert not AutomationEntry.objects.exists() and not Recipient.objects.exists()


def test_the_delay_counts_from_the_subscription_also_when_the_scan_comes_late(workspace, alice, version, welcome):
    automation = create_automation(
        workspace, alice, _fields(version, trigger=TriggerKind.LIST, trigger_list=welcome, delay_minutes=60)
    )
    contact = create_contact(workspace, "late@example.com", lists=[welcome])
    # No worker ran for two hours: the contact enters and, its delay over, is sent at once.
    ran = run_due(timezone.now() + timedelta(hours=2))
    assert (ran.entered, ran.entries_sent) == (1, 1)
    entry = AutomationEntry.objects.get(automation=automation)
    assert entry.due_at == contact.subscriptions.get().updated_at + timedelta(minutes=60)

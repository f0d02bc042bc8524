"""The scheduler's automation jobs, called by ``scheduling.run_due``.

- ``enter_subscribers``: contacts whose subscription to an automation's list became active since
  its watermark enter it, set-wise (one ``INSERT … SELECT``; occurrence ``subscription:<id>``).
  The audience layer is below campaigns and knows nothing of automations, so the scheduler
  looks at the subscriptions (``updated_at`` after the watermark) instead of being told.
- ``enter_dates``: hourly per automation, contacts whose date attribute plus the offset is
  today *in their own time zone* (or was, since the last check: a stopped worker catches up)
  enter it (occurrence ``<attribute>:<date>``).
- ``send_due_entries``: entries past their delay get a recipient (with its response token) and
  a queued invitation (category ``invitation_automation``, no body: rendered at send time), or
  are skipped with the reason (erased, not active, suppressed, left the list).
- ``send_due_reminders``: an automation's reminder, ``reminder_after_days`` after an entry's
  invitation, when the recipient has not responded.

Every job is claimed by a conditional UPDATE (or a row lock that skips rows another worker
holds) in the transaction that does it: two workers never do one twice, and a worker that dies
leaves the job due. The unique (automation, contact, occurrence) constraint backs it up.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat

from openesp.audience.attribute_keys import spelling
from openesp.audience.models import Contact, ContactStatus, Subscription, SubscriptionStatus, Suppression
from openesp.campaigns.models import (
    Automation,
    AutomationEntry,
    AutomationStatus,
    EntryStatus,
    Purpose,
    Recipient,
    TriggerKind,
)
from openesp.campaigns.queueing import queue_messages
from openesp.campaigns.sql import insert_select
from openesp.messaging.models import Category

# Subscriptions that commit late (a long transaction) may carry an updated_at before the
# watermark: each scan looks this far back, and the unique occurrence drops the repeats.
OVERLAP = timedelta(minutes=10)
DATE_CHECK_EVERY = timedelta(hours=1)
SUBSCRIPTION_SCAN_EVERY = timedelta(seconds=15)  # a scan is one UPDATE and one INSERT … SELECT
ENTRY_BATCH = 200


# --- entering ----------------------------------------------------------------------------------


def enter_subscribers(automation_id: int, now: datetime) -> int:
    """Enter the contacts that subscribed to the automation's list since the watermark; the
    number entered."""
    with transaction.atomic():
        automation = Automation.objects.filter(pk=automation_id, trigger=TriggerKind.LIST).first()
        if automation is None or automation.trigger_list_id is None:
            return 0
        seen = automation.subscriptions_seen_at
        if seen >= now or not Automation.objects.filter(pk=automation_id, subscriptions_seen_at=seen).update(
            subscriptions_seen_at=now
        ):
            return 0  # another worker has just done it
        occurrence = Concat(Value("subscription:"), Cast("id", CharField()), output_field=CharField())
        taken = AutomationEntry.objects.filter(
            automation_id=automation_id,
            contact_id=OuterRef("contact_id"),
            occurrence=Concat(Value("subscription:"), Cast(OuterRef("id"), CharField()), output_field=CharField()),
        )
        rows = (
            Subscription.objects.filter(
                contact_list_id=automation.trigger_list_id,
                status=SubscriptionStatus.SUBSCRIBED,
                updated_at__gt=max(seen - OVERLAP, automation.watching_since),
                updated_at__lte=now,
                contact__status=ContactStatus.ACTIVE,
            )
            .exclude(Exists(taken))
            .annotate(
                x_automation=Value(automation_id, IntegerField()),
                x_occurrence=occurrence,
                x_data=Value({}, JSONField()),
                x_status=Value(EntryStatus.WAITING.value),
                x_detail=Value(""),
                # Triggered when the subscription became active (a scan may come later than that,
                # after a stopped worker): the delay counts from then.
                x_at=F("updated_at"),
                x_due=ExpressionWrapper(
                    F("updated_at") + Value(timedelta(minutes=automation.delay_minutes)),
                    output_field=DateTimeField(),
                ),
            )
            .order_by("id")
            .values_list(
                "x_automation", "contact_id", "x_occurrence", "x_data", "x_status", "x_detail", "x_at", "x_due"
            )
        )
        return insert_select(
            AutomationEntry,
            ["automation", "contact", "occurrence", "data", "status", "detail", "triggered_at", "due_at"],
            rows,
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _date_of(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except (TypeError, ValueError):
        return None


def enter_dates(automation_id: int, now: datetime) -> int:
    """Enter the contacts whose ``date_attribute + offset_days`` is their local today, or a day
    since the last check (a worker that was stopped catches up, nothing older); the number
    entered. Claimed per automation at most once an hour."""
    with transaction.atomic():
        automation = Automation.objects.filter(pk=automation_id, trigger=TriggerKind.DATE).first()
        if automation is None or not automation.date_attribute:
            return 0
        last = automation.next_date_check
        if last > now or not Automation.objects.filter(pk=automation_id, next_date_check=last).update(
            next_date_check=now + DATE_CHECK_EVERY
        ):
            return 0
        offset = timedelta(days=automation.offset_days)
        # Local dates are at most a day away from UTC's (UTC-12 … UTC+14): the attribute values
        # that can be due lie in this window, which the database narrows to.
        low = (last.astimezone(UTC) - timedelta(days=1)).date() - offset
        high = (now.astimezone(UTC) + timedelta(days=2)).date() - offset
        attribute = automation.date_attribute
        # Contacts hold the workspace's spelling of the name, which may differ in case from the
        # automation's (audience.attribute_keys); ``attribute`` stays as written in the occurrence.
        key = spelling(automation.workspace_id, attribute)
        contacts = (
            Contact.objects.filter(workspace_id=automation.workspace_id, status=ContactStatus.ACTIVE)
            # Cast: the key's text as text (SQLite's JSON path would read it back as JSON).
            .annotate(x_value=Cast(KT(f"attributes__{key}"), CharField()))
            .filter(x_value__gte=low.isoformat(), x_value__lt=high.isoformat())
        )
        if automation.trigger_list_id is not None:
            contacts = contacts.filter(
                Exists(Subscription.objects.filter(contact=OuterRef("pk"), contact_list_id=automation.trigger_list_id))
            )
        due_at = now + timedelta(minutes=automation.delay_minutes)
        entries = []
        for contact_id, value, zone_name in contacts.values_list("id", "x_value", "time_zone").iterator():
            reached = _date_of(value)
            if reached is None:
                continue
            zone = _zone(zone_name)
            day = reached + offset
            if last.astimezone(zone).date() <= day <= now.astimezone(zone).date():
                entry = AutomationEntry(
                    automation_id=automation_id, contact_id=contact_id, occurrence=f"{attribute}:{reached}",
                    data={"date": reached.isoformat()}, triggered_at=now, due_at=due_at,
                )  # fmt: skip
                entries.append(entry)
        # A contact entered for this date already is left as it is (bulk_create returns every
        # row it was given, so the entries made are counted by their stamp).
        AutomationEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=500)
        return AutomationEntry.objects.filter(automation_id=automation_id, triggered_at=now).count()


# --- sending -----------------------------------------------------------------------------------


def _skip_reasons(automation: Automation) -> list[tuple[str, Q]]:
    """Why a due entry is not sent, first match wins (conditions on the entry's row)."""
    suppressed = Suppression.objects.filter(
        Q(workspace_id=automation.workspace_id) | Q(workspace__isnull=True), email=OuterRef("contact__email_key")
    )
    reasons = [
        ("the contact was erased", Q(contact__isnull=True)),
        ("the contact is not active (unsubscribed, bounced or complained)", ~Q(contact__status=ContactStatus.ACTIVE)),
        ("the address is suppressed", Q(Exists(suppressed))),
    ]
    subscribed = Subscription.objects.filter(contact=OuterRef("contact_id"), status=SubscriptionStatus.SUBSCRIBED)
    if automation.trigger == TriggerKind.LIST:
        still = subscribed.filter(contact_list_id=automation.trigger_list_id)
        reasons.append(("the contact is no longer subscribed to the list", ~Q(Exists(still))))
    elif automation.trigger == TriggerKind.DATE:
        if automation.trigger_list_id is not None:
            subscribed = subscribed.filter(contact_list_id=automation.trigger_list_id)
        reasons.append(("the contact is subscribed to no list", ~Q(Exists(subscribed))))
    return reasons


def send_due_entries(automation_id: int, now: datetime) -> int:
    """Send the automation's entries whose delay is over (a batch); the number sent."""
    with transaction.atomic():
        automation = (
            Automation.objects.select_related("campaign__workspace__organization", "campaign__template_version")
            .filter(pk=automation_id, status=AutomationStatus.ACTIVE)
            .first()
        )
        if automation is None:
            return 0
        # Rows another worker holds are skipped, not waited for (PostgreSQL; SQLite has one
        # writer at a time): each worker sends its own entries.
        due = AutomationEntry.objects.select_for_update(skip_locked=True).filter(
            automation_id=automation_id, status=EntryStatus.WAITING, due_at__lte=now
        )
        ids = list(due.order_by("due_at", "id").values_list("id", flat=True)[:ENTRY_BATCH])
        if not ids:
            return 0
        claimed = AutomationEntry.objects.filter(pk__in=ids, status=EntryStatus.WAITING)
        claimed.update(status=EntryStatus.SENT, sent_at=now)
        mine = AutomationEntry.objects.filter(pk__in=ids, status=EntryStatus.SENT, sent_at=now)
        for reason, condition in _skip_reasons(automation):
            mine.filter(condition).update(status=EntryStatus.SKIPPED, sent_at=None, detail=reason)
        container = automation.campaign
        rows = (
            mine.annotate(x_campaign=Value(container.pk, IntegerField()), x_at=Value(now, DateTimeField()))
            .order_by("id")
            .values_list("x_campaign", "contact_id", "contact__email", "x_at", "id")
        )
        insert_select(Recipient, ["campaign", "contact", "email", "created_at", "entry"], rows)
        if automation.reminder_version_id is not None and automation.reminder_after_days:
            mine.update(reminder_due_at=now + timedelta(days=automation.reminder_after_days))
        sent = list(mine.values_list("id", flat=True))
        for entry_id in sent:
            queue_messages(
                container,
                Recipient.objects.filter(entry_id=entry_id),
                purpose=Purpose.INVITATION,
                version=container.template_version,
                category=Category.INVITATION_AUTOMATION,
                now=now,
                link={"entry_id": entry_id},
            )
        return len(sent)


def send_due_reminders(automation_id: int, now: datetime) -> int:
    """Remind the entries whose reminder is due and who have not responded (a batch): one
    reminder per entry at most (claimed by ``reminded_at``; a unique constraint backs it)."""
    with transaction.atomic():
        automation = (
            Automation.objects.select_related("campaign__workspace__organization", "reminder_version")
            .filter(pk=automation_id, status=AutomationStatus.ACTIVE, reminder_version__isnull=False)
            .first()
        )
        if automation is None or automation.reminder_version is None:
            return 0
        due = AutomationEntry.objects.select_for_update(skip_locked=True).filter(
            automation_id=automation_id, reminded_at__isnull=True, reminder_due_at__lte=now, status=EntryStatus.SENT
        )
        ids = list(due.order_by("reminder_due_at", "id").values_list("id", flat=True)[:ENTRY_BATCH])
        if not ids:
            return 0
        AutomationEntry.objects.filter(pk__in=ids, reminded_at__isnull=True).update(reminded_at=now)
        suppressed = Suppression.objects.filter(
            Q(workspace_id=automation.workspace_id) | Q(workspace__isnull=True), email=OuterRef("contact__email_key")
        )
        waiting = (
            Recipient.objects.filter(
                entry_id__in=ids,
                responded_at__isnull=True,
                contact__isnull=False,
                contact__status=ContactStatus.ACTIVE,
                entry__reminded_at=now,
            )
            .exclude(Exists(suppressed))
            .values_list("entry_id", flat=True)
        )
        count = 0
        for entry_id in list(waiting):
            count += queue_messages(
                automation.campaign,
                Recipient.objects.filter(entry_id=entry_id),
                purpose=Purpose.REMINDER,
                version=automation.reminder_version,
                category=Category.REMINDER_SCHEDULED,
                now=now,
                link={"entry_id": entry_id},
            )
        return count


def automations_due(job: str, now: datetime, limit: int) -> list[int]:
    """Ids of the automations that ``job`` (``subscriptions``, ``dates``, ``entries``,
    ``reminders``) has something to do for at ``now``."""
    if job == "subscriptions":
        rows = Automation.objects.filter(
            trigger=TriggerKind.LIST, trigger_list__isnull=False,
            subscriptions_seen_at__lte=now - SUBSCRIPTION_SCAN_EVERY,
        ).order_by("subscriptions_seen_at")  # fmt: skip
    elif job == "dates":
        rows = Automation.objects.filter(trigger=TriggerKind.DATE, next_date_check__lte=now).order_by("next_date_check")
    elif job == "entries":
        waiting = AutomationEntry.objects.filter(automation=OuterRef("pk"), status=EntryStatus.WAITING, due_at__lte=now)
        rows = Automation.objects.filter(Exists(waiting), status=AutomationStatus.ACTIVE).order_by("id")
    else:
        unreminded = AutomationEntry.objects.filter(
            automation=OuterRef("pk"), reminded_at__isnull=True, reminder_due_at__lte=now, status=EntryStatus.SENT
        )
        rows = Automation.objects.filter(
            Exists(unreminded), status=AutomationStatus.ACTIVE, reminder_version__isnull=False
        ).order_by("id")
    return list(rows.values_list("id", flat=True)[:limit])

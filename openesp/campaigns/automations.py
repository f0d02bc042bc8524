"""Automations: an invitation sent to one contact at a time when a trigger fires, after a delay.

Triggers: a contact subscribes to a list (``list_subscribed``), a date attribute is reached with
an offset in the contact's time zone (``date_attribute``: ``renewal_date`` − 14 days), or an API
call (``api``). Each firing is an ``AutomationEntry``, unique per (automation, contact,
occurrence) — the subscription's id, the date reached, or the call's key — so a contact enters
at most once per occurrence, whatever runs twice. The entries wait until ``due_at`` (trigger +
delay); ``scheduling.run_due`` then sends them (``automation_jobs``).

An automation owns a container ``Campaign`` (kind ``automation``; docs/decisions/008-automations.md)
holding the sender, the pinned template version, the response URL and the receipt template.
Each sent entry gets a ``Recipient`` of that container with its own response token, so the
hosted response page, ``record_response``, receipts and ``campaigns.render`` treat automation
invitations as they treat a campaign's. A paused automation keeps recording entries and sends
none until it is resumed (its container is paused: queued messages are held).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import normalise_email
from openesp.audience.models import Contact, ContactList
from openesp.campaigns.campaigns import _clean_url, cancel_campaign, pause_campaign, resume_campaign
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import (
    Automation,
    AutomationEntry,
    AutomationStatus,
    Campaign,
    CampaignKind,
    CampaignMessage,
    CampaignStatus,
    EntryStatus,
    Purpose,
    Recipient,
    Response,
    TemplateVersion,
    TriggerKind,
)
from openesp.campaigns.responses import recipient_for_token
from openesp.campaigns.templates import campaign_template_problems
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.senders import SenderNotAllowed, check_sender

MAX_DELAY_MINUTES = 366 * 24 * 60
MAX_OFFSET_DAYS = 3660
MAX_REMINDER_DAYS = 365
MAX_KEY = 150
MAX_DATA_CHARS = 10_000
# Attribute names as contacts have them (letters, digits, _ . -), without a path into a value.
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}\Z")


@dataclass
class AutomationFields:
    """What an automation is made of; ``None`` for a change: leave as it is."""

    name: str | None = None
    trigger: str | None = None
    trigger_list: ContactList | None = None
    date_attribute: str | None = None
    offset_days: int | None = None
    delay_minutes: int | None = None
    version: TemplateVersion | None = None
    from_email: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    response_url: str | None = None
    receipt_version: TemplateVersion | None = None
    reminder_version: TemplateVersion | None = None
    reminder_after_days: int | None = None
    clear: tuple[str, ...] = ()  # optional fields set to nothing: receipt_version, reminder_version, trigger_list


def _check_name(workspace: Workspace, name: object, exclude: int | None, problems: list[FieldProblem]) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > 200:
        problems.append(FieldProblem("name", "is required, at most 200 characters"))
    elif Automation.objects.filter(workspace=workspace, name=clean).exclude(pk=exclude or 0).exists():
        problems.append(FieldProblem("name", "the workspace has an automation of this name already"))
    return clean


def _template_problems(fields: AutomationFields) -> list[FieldProblem]:
    return campaign_template_problems(
        ("template_id", fields.version),
        ("receipt_template_id", fields.receipt_version),
        ("reminder_template_id", fields.reminder_version),
    )


def _check_sender(
    actor: User, workspace: Workspace, from_email: str, from_name: str, reply_to: str, problems: list[FieldProblem]
) -> tuple[str, str, str]:
    """The same sender rules as a campaign's and ``POST /api/v1/messages``'s."""
    sender = clean_reply_to = ""
    try:
        sender, _key = normalise_email(from_email, "from")
        check_sender(actor, workspace.organization, workspace, sender)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    except SenderNotAllowed as exc:
        problems.append(FieldProblem("from", str(exc)))
    if reply_to.strip():
        try:
            clean_reply_to, _key = normalise_email(reply_to, "reply_to")
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if len(from_name) > 200 or "\n" in from_name or "\r" in from_name:
        problems.append(FieldProblem("from_name", "must be one line of at most 200 characters"))
    return sender, from_name.strip(), clean_reply_to


def _check_trigger(values: dict[str, Any], problems: list[FieldProblem]) -> None:
    trigger = values["trigger"]
    if trigger not in TriggerKind.values:
        problems.append(FieldProblem("trigger", f"must be one of {', '.join(TriggerKind.values)}"))
        return
    if trigger == TriggerKind.LIST and values["trigger_list"] is None:
        problems.append(FieldProblem("list_id", "is required with the trigger list_subscribed"))
    if trigger == TriggerKind.DATE:
        if not _ATTRIBUTE.match(values["date_attribute"] or "") or "__" in values["date_attribute"]:
            reason = "is required with the trigger date_attribute: an attribute name such as renewal_date"
            problems.append(FieldProblem("date_attribute", reason))
        if not -MAX_OFFSET_DAYS <= values["offset_days"] <= MAX_OFFSET_DAYS:
            problems.append(FieldProblem("offset_days", f"must be between -{MAX_OFFSET_DAYS} and {MAX_OFFSET_DAYS}"))
    if not 0 <= values["delay_minutes"] <= MAX_DELAY_MINUTES:
        problems.append(FieldProblem("delay_minutes", f"must be between 0 and {MAX_DELAY_MINUTES} (366 days)"))
    if values["reminder_version"] is not None:
        days = values["reminder_after_days"]
        if days is None or not 1 <= days <= MAX_REMINDER_DAYS:
            reason = f"must be between 1 and {MAX_REMINDER_DAYS} with a reminder template"
            problems.append(FieldProblem("reminder_after_days", reason))


def _same_workspace(workspace: Workspace, values: dict[str, Any]) -> None:
    for name in ("version", "receipt_version", "reminder_version"):
        version = values.get(name)
        if version is not None and version.template.workspace_id != workspace.pk:
            raise ValueError("an automation's templates belong to its workspace")
    if values.get("trigger_list") is not None and values["trigger_list"].workspace_id != workspace.pk:
        raise ValueError("an automation's list belongs to its workspace")


def create_automation(
    workspace: Workspace, actor: User, fields: AutomationFields, *, now: datetime | None = None
) -> Automation:
    """A new, active automation. The caller looked the list and template versions up through
    the tenant; ``actor`` is the user whose effective provider carries the mail."""
    now = now or timezone.now()
    values: dict[str, Any] = {
        "trigger": fields.trigger or "", "trigger_list": fields.trigger_list,
        "date_attribute": (fields.date_attribute or "").strip(), "offset_days": fields.offset_days or 0,
        "delay_minutes": fields.delay_minutes or 0, "reminder_version": fields.reminder_version,
        "reminder_after_days": fields.reminder_after_days, "version": fields.version,
        "receipt_version": fields.receipt_version,
    }  # fmt: skip
    _same_workspace(workspace, values)
    problems: list[FieldProblem] = []
    name = _check_name(workspace, fields.name, None, problems)
    if fields.version is None:
        problems.append(FieldProblem("template_id", "is required"))
    _check_trigger(values, problems)
    sender, from_name, reply_to = _check_sender(
        actor, workspace, fields.from_email or "", fields.from_name or "", fields.reply_to or "", problems
    )
    response_url = _clean_url(fields.response_url or "", "response_url", problems)
    problems += _template_problems(fields)
    if problems:
        raise InvalidInput(problems)
    assert fields.version is not None
    with transaction.atomic():
        container = Campaign.objects.create(
            workspace=workspace, kind=CampaignKind.AUTOMATION, name=name, template_version=fields.version,
            receipt_version=fields.receipt_version, from_email=sender, from_name=from_name, reply_to=reply_to,
            response_url=response_url, created_by=actor, status=CampaignStatus.SENDING, started_at=now,
            created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            return Automation.objects.create(
                workspace=workspace, campaign=container, name=name, created_by=actor, created_at=now, updated_at=now,
                subscriptions_seen_at=now, watching_since=now, next_date_check=now,
                **{k: v for k, v in values.items() if k not in ("version", "receipt_version")},
            )  # fmt: skip
        except IntegrityError:  # the same name, made at the same moment
            raise InvalidInput.one("name", "the workspace has an automation of this name already") from None


def update_automation(
    automation: Automation, actor: User, fields: AutomationFields, *, now: datetime | None = None
) -> Automation:
    """Change what is given. A new template version applies to entries sent from now on;
    entries already waiting keep their occurrence. A new trigger list starts watching now."""
    now = now or timezone.now()
    container = automation.campaign
    workspace = automation.workspace
    values: dict[str, Any] = {
        "trigger": automation.trigger, "trigger_list": automation.trigger_list,
        "date_attribute": automation.date_attribute, "offset_days": automation.offset_days,
        "delay_minutes": automation.delay_minutes, "reminder_version": automation.reminder_version,
        "reminder_after_days": automation.reminder_after_days,
    }  # fmt: skip
    for name in values:
        given = getattr(fields, name)
        if given is not None:
            values[name] = given.strip() if isinstance(given, str) else given
    for name in fields.clear:
        if name in values:
            values[name] = None
    if values["reminder_version"] is None:
        values["reminder_after_days"] = None
    _same_workspace(workspace, {**values, "version": fields.version, "receipt_version": fields.receipt_version})
    problems: list[FieldProblem] = []
    name = automation.name if fields.name is None else _check_name(workspace, fields.name, automation.pk, problems)
    _check_trigger(values, problems)
    sender, from_name, reply_to = container.from_email, container.from_name, container.reply_to
    if fields.from_email is not None or fields.from_name is not None or fields.reply_to is not None:
        sender, from_name, reply_to = _check_sender(
            actor, workspace, fields.from_email if fields.from_email is not None else container.from_email,
            fields.from_name if fields.from_name is not None else container.from_name,
            fields.reply_to if fields.reply_to is not None else container.reply_to, problems,
        )  # fmt: skip
    response_url = container.response_url
    if fields.response_url is not None:
        response_url = _clean_url(fields.response_url, "response_url", problems)
    problems += _template_problems(fields)
    if problems:
        raise InvalidInput(problems)
    watch_from = {}
    if values["trigger_list"] != automation.trigger_list or values["trigger"] != automation.trigger:
        watch_from = {"subscriptions_seen_at": now, "watching_since": now, "next_date_check": now}
    receipt = None if "receipt_version" in fields.clear else (fields.receipt_version or container.receipt_version)
    with transaction.atomic():
        Campaign.objects.filter(pk=container.pk).update(
            name=name, from_email=sender, from_name=from_name, reply_to=reply_to, response_url=response_url,
            template_version=fields.version or container.template_version, receipt_version=receipt, updated_at=now,
        )  # fmt: skip
        try:
            Automation.objects.filter(pk=automation.pk).update(name=name, updated_at=now, **values, **watch_from)
        except IntegrityError:
            raise InvalidInput.one("name", "the workspace has an automation of this name already") from None
    automation.refresh_from_db()
    container.refresh_from_db()
    return automation


def pause_automation(automation: Automation, *, now: datetime | None = None) -> Automation:
    """Send nothing until resumed: entries keep being recorded; queued mail is held."""
    now = now or timezone.now()
    with transaction.atomic():
        if not Automation.objects.filter(pk=automation.pk, status=AutomationStatus.ACTIVE).update(
            status=AutomationStatus.PAUSED, updated_at=now
        ):
            raise Conflict("the automation is paused already")
        pause_campaign(automation.campaign, now=now)
    automation.refresh_from_db()
    return automation


def resume_automation(automation: Automation, *, now: datetime | None = None) -> Automation:
    """Send again: entries that came due while paused are sent by the next ``run_due``."""
    now = now or timezone.now()
    with transaction.atomic():
        if not Automation.objects.filter(pk=automation.pk, status=AutomationStatus.PAUSED).update(
            status=AutomationStatus.ACTIVE, updated_at=now
        ):
            raise Conflict("the automation is active already")
        resume_campaign(automation.campaign, now=now)
    automation.refresh_from_db()
    return automation


def delete_automation(automation: Automation, *, now: datetime | None = None) -> None:
    """Take its queued mail off the queue (a ``cancelled`` event each), then delete it with its
    entries, recipients and responses. Sent messages stay in the message log."""
    now = now or timezone.now()
    with transaction.atomic():
        container = automation.campaign
        cancel_campaign(container, now=now)
        automation.delete()
        container.delete()


# --- the API trigger ---------------------------------------------------------------------------


def trigger_automation(
    automation: Automation,
    contact: Contact,
    *,
    key: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[AutomationEntry, bool]:
    """``(entry, created)``: the contact enters the automation for this call. With ``key``, a
    repeat of the same key for the same contact returns the first entry (an idempotent retry);
    without one, every call is an occurrence of its own."""
    now = now or timezone.now()
    if contact.workspace_id != automation.workspace_id:
        raise ValueError("the contact belongs to the automation's workspace")
    if automation.trigger != TriggerKind.API:
        raise Conflict(f"this automation is triggered by {automation.trigger}, not by the API")
    problems: list[FieldProblem] = []
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY or not key.isprintable()):
        problems.append(FieldProblem("key", f"must be 1 to {MAX_KEY} printable characters"))
    if data is not None and len(repr(data)) > MAX_DATA_CHARS:
        problems.append(FieldProblem("data", f"must be at most {MAX_DATA_CHARS:,} characters"))
    if problems:
        raise InvalidInput(problems)
    occurrence = f"api:{key}" if key is not None else f"api-call:{uuid.uuid4()}"
    try:
        with transaction.atomic():
            entry = AutomationEntry.objects.create(
                automation=automation, contact=contact, occurrence=occurrence, data=dict(data or {}),
                triggered_at=now, due_at=now + timedelta(minutes=automation.delay_minutes),
            )  # fmt: skip
    except IntegrityError:
        return AutomationEntry.objects.get(automation=automation, contact=contact, occurrence=occurrence), False
    return entry, True


# --- reading -----------------------------------------------------------------------------------


def automations_of(workspace: Workspace) -> QuerySet[Automation]:
    """The automations of a workspace the caller has reached, newest first."""
    return (
        Automation.objects.filter(workspace=workspace)
        .select_related("campaign__template_version__template", "trigger_list", "reminder_version__template")
        .order_by("-created_at", "-id")
    )


def automation_stats(automation: Automation) -> dict[str, int]:
    """Entries by status, responses, reminders and receipts queued."""
    by_status = dict(
        AutomationEntry.objects.filter(automation=automation)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    links = CampaignMessage.objects.filter(campaign_id=automation.campaign_id)
    return {
        "entered": sum(by_status.values()),
        "waiting": by_status.get(EntryStatus.WAITING, 0),
        "sent": by_status.get(EntryStatus.SENT, 0),
        "skipped": by_status.get(EntryStatus.SKIPPED, 0),
        "responded": Response.objects.filter(campaign_id=automation.campaign_id).count(),
        "reminders_sent": links.filter(purpose=Purpose.REMINDER).count(),
        "receipts_sent": links.filter(purpose=Purpose.RECEIPT).count(),
    }


def recent_entries(automation: Automation, limit: int = 50) -> list[AutomationEntry]:
    return list(AutomationEntry.objects.filter(automation=automation).select_related("contact").order_by("-id")[:limit])


def recipient_for(automation: Automation, *, token: str | None = None, contact_id: Any = None) -> Recipient | None:
    """The automation's recipient a response names: by its token, or the contact's latest
    invitation (a contact has one recipient per occurrence); None when it names none."""
    if token is not None:
        try:
            recipient = recipient_for_token(token.strip())
        except Http404:
            return None
        return recipient if recipient.campaign_id == automation.campaign_id else None
    try:
        contact_pk = int(contact_id)
    except (TypeError, ValueError, OverflowError):
        return None
    recipients = Recipient.objects.filter(campaign_id=automation.campaign_id, contact_id=contact_pk)
    return recipients.order_by("-id").first()

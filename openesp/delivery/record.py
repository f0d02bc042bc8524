"""Record: what happened to each message of a batch, written back in one transaction.

A message's row (status, provider, reply), its events, and for a hard bounce about the address
itself a suppression with its audit row; only rows still leased to this worker are written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from openesp.audience.feedback import mark_contacts
from openesp.audience.models import ContactStatus, Suppression, SuppressionReason
from openesp.audience.suppressions import suppress_many
from openesp.campaigns.campaigns import paused_messages
from openesp.delivery.queue import Backoff
from openesp.delivery.route import Route
from openesp.esp.failover import connection_level, health_key, note
from openesp.esp.providers import ProviderError, SendResult
from openesp.esp.providers.base import enhanced_status
from openesp.lib.fastmodel import like
from openesp.lib.fastread import keys_of
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message, Status

_SMTP_REPLY = re.compile(r"^(\d{3})\b")
# Enhanced status codes that say the address itself is bad (RFC 3463: 5.1.x addressing,
# 5.2.1 mailbox disabled). Only these, or a refused RCPT, put an address on the suppression
# list: a 5xx for the content or the sender is not the recipient's fault.
_ADDRESS_STATUS = re.compile(r"^5\.(1\.\d+|2\.1)\Z")


@dataclass
class Outcome:
    message: Message
    route: Route | None
    result: SendResult | ProviderError | None = None
    dropped: str = ""  # why the message was not sent at all
    throttled: float = 0.0  # a rate limit held it back: try again after this many seconds
    held: datetime | None = None  # a paused campaign's message: back in the queue until then
    sender: str = ""  # the From address handed to the provider (a custom SMTP server's own)


def record(outcomes: list[Outcome], worker: str, backoff: Backoff) -> None:
    """Write the outcomes of a batch: message rows, events, hard-bounce suppressions; one transaction."""
    now = timezone.now()
    events: list[Event] = []
    suppressions: list[Suppression] = []
    changed: list[Message] = []
    with transaction.atomic():
        held = [o for o in outcomes if o.held is not None]
        if held:
            # Before anything else: the campaigns' row locks make a resume or cancel running
            # now wait for this hold (and then release or cancel it), or this hold see it.
            paused = paused_messages([o.message.pk for o in held])
            for outcome in held:
                if outcome.message.pk not in paused:  # resumed or cancelled since it was planned
                    outcome.held = now
        ids = [o.message.pk for o in outcomes]
        # Only rows still leased to us: if our lease ran out and another worker took a
        # message, its record wins and ours is dropped.
        # Locked in a fixed order (by id): lockers of the same messages that also go by id
        # cannot deadlock.
        still = "t.lease_owner = %s AND t.status = %s"
        mine = set(keys_of(Message, ids, where=still, params=[worker, Status.SENDING], lock=True))
        for outcome in outcomes:
            message = outcome.message
            if message.pk not in mine:
                continue
            apply(outcome, now, events, suppressions, backoff)
            changed.append(message)
        _write_back(changed)
        add_events(events)
        suppress_many(suppressions, audit_source="delivery")  # the one writer, with its audit rows
        # In the same transaction: a contact is never "active" while its address is suppressed
        # for a hard bounce.
        mark_contacts(((s.workspace_id, s.email) for s in suppressions if s.workspace_id), ContactStatus.BOUNCED, now)
    note_health(outcomes)


def note_health(outcomes: list[Outcome]) -> None:
    """Tell failover which providers could be reached in this batch and which could not."""
    failures: dict[str, str] = {}
    reached: set[str] = set()
    for outcome in outcomes:
        route, result = outcome.route, outcome.result
        if route is None or route.kind == "none" or result is None:
            continue
        key = health_key(route.kind, route.config_id)
        if isinstance(result, ProviderError) and connection_level(result):
            failures[key] = f"{result.step}: {result}"
        elif isinstance(result, SendResult) or result.step not in ("validate", "route", "render"):
            reached.add(key)  # it answered, even if only to refuse this message
    if failures or reached:
        note(failures, reached)


def apply(
    outcome: Outcome, now: datetime, events: list[Event], suppressions: list[Suppression], backoff: Backoff
) -> None:
    """One outcome onto its message (in memory), plus the events and suppressions it causes."""
    message, route, result = outcome.message, outcome.route, outcome.result
    message.lease_owner, message.lease_until, message.updated_at = "", None, now
    if outcome.held is not None:
        # Not an attempt either: the campaign was paused; resuming it releases the message.
        message.status = Status.QUEUED if message.attempts <= 1 else Status.DEFERRED
        message.not_before = outcome.held
        message.attempts -= 1
        return
    if outcome.throttled:
        # Not an attempt: back in the queue for when the limit allows more.
        message.status = Status.QUEUED if message.attempts <= 1 else Status.DEFERRED
        message.not_before = now + timedelta(seconds=outcome.throttled)
        message.attempts -= 1
        return
    if route is not None:
        message.provider_kind = route.kind
        message.provider_config_id = route.config_id
        message.provider_reason = route.reason[:300]
    if outcome.sender:
        message.sent_from = outcome.sender[:320]
    if outcome.dropped:
        message.status = Status.DROPPED
        events.append(_event(message, EventType.DROPPED, now, detail=outcome.dropped))
        return
    if isinstance(result, SendResult):
        code = _SMTP_REPLY.match(result.detail)
        message.status = Status.SENT
        message.sent_at = now
        message.provider_message_id = result.provider_message_id[:200]
        message.last_smtp_code = int(code.group(1)) if code else None
        message.last_response = result.detail
        events.append(
            _event(
                message,
                EventType.SENT,
                now,
                smtp_code=message.last_smtp_code,
                enhanced_status=(enhanced_status(result.detail[4:]) or "") if code else "",
                detail=result.detail,
                data={"provider": message.provider_kind, "reason": message.provider_reason},
            )
        )
        return
    assert isinstance(result, ProviderError)
    message.last_smtp_code = result.smtp_code
    message.last_response = f"{result.step}: {result}"
    data = {"step": result.step, "provider": message.provider_kind, "verdict": str(result.verdict)}
    if result.http_status is not None:
        data["http_status"] = str(result.http_status)
    if result.temporary and not backoff.expired(message.created_at, now):
        message.status = Status.DEFERRED
        message.not_before = backoff.next_attempt(message.attempts, now)
        event_type = EventType.DEFERRED
        detail = str(result)
    else:
        message.status = Status.BOUNCED
        event_type = EventType.BOUNCED
        if result.temporary:
            data["bounce"] = "expired"
            hours = backoff.lifetime.total_seconds() / 3600
            detail = f"expired: gave up after {hours:g} hours; last error: {result}"
        else:
            data["bounce"] = "hard"
            detail = str(result)
    event = _event(
        message,
        event_type,
        now,
        smtp_code=result.smtp_code,
        enhanced_status=result.enhanced_status or "",
        detail=detail,
        data=data,
    )
    events.append(event)
    if event_type == EventType.BOUNCED and not result.temporary and message.workspace_id and _about_address(result):
        suppressions.append(
            Suppression(
                workspace_id=message.workspace_id,
                email=message.to_email.lower(),
                reason=SuppressionReason.HARD_BOUNCE,
                detail=detail[:1000],
                source_event=event,  # saved first: bulk_create gives it its id
                created_at=now,
            )
        )


def _event(
    message: Message,
    kind: str,
    now: datetime,
    *,
    detail: str,
    smtp_code: int | None = None,
    enhanced_status: str = "",
    data: dict[str, str] | None = None,
) -> Event:
    """``Event(message=message, …)`` as ``Model.__init__`` would make it, copied from a blank
    one instead (``lib.fastmodel.like``; every field is set here): ``__init__`` was a fifth of
    recording a batch."""
    event = like(
        _blank_event(),
        message_id=message.pk,
        type=kind,
        created_at=now,
        smtp_code=smtp_code,
        enhanced_status=enhanced_status,
        detail=detail,
        data={} if data is None else data,  # a dict of its own, as Event() would give it
    )
    _EVENT_MESSAGE.set_cached_value(event, message)  # the object itself, as Event(message=…) keeps it
    return event


@functools.cache
def _blank_event() -> Event:
    return Event()


_EVENT_MESSAGE = Event._meta.get_field("message")


# The subject too: a campaign message's is rendered at send time and kept for the message log.
_WRITE_BACK_FIELDS = (
    "subject", "status", "attempts", "not_before", "lease_owner", "lease_until", "provider_kind", "provider_config_id",
    "provider_reason", "provider_message_id", "sent_from", "last_smtp_code", "last_response", "sent_at", "updated_at",
)  # fmt: skip


def _write_back(messages: list[Message]) -> None:
    """One prepared UPDATE executed for many rows.

    Django's ``bulk_update`` builds a CASE expression per field and row: about 20 ms per
    message here, which would cap the worker at a few dozen messages a second.
    """
    if not messages:
        return
    adapt = connection.ops.adapt_datetimefield_value
    columns = ", ".join(f"{name} = %s" for name in _WRITE_BACK_FIELDS)
    sql = f"UPDATE {Message._meta.db_table} SET {columns} WHERE id = %s"  # noqa: S608 - our own names only
    # Most dates of a batch are one object (``now``: updated, sent): each converted once. The
    # messages hold their dates throughout, so an id names one object here.
    adapted: dict[int, Any] = {}
    rows = []
    for m in messages:
        row: list[Any] = []
        for name in _WRITE_BACK_FIELDS:
            value = getattr(m, name)
            if isinstance(value, datetime):
                key = id(value)
                if key not in adapted:
                    adapted[key] = adapt(value)
                value = adapted[key]
            row.append(value)
        row.append(m.pk)
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _about_address(error: ProviderError) -> bool:
    if error.enhanced_status:
        return bool(_ADDRESS_STATUS.match(error.enhanced_status))
    return error.step == "recipient" and error.smtp_code is not None and error.smtp_code >= 500

"""Working off the inbox: stored provider events and bounce mail become what they mean.

Run by the delivery workers between claims (``drain``). Each chunk is claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's IMMEDIATE transactions serialise the
workers) and processed in one transaction: the messaging events are written through the one
event writer (``messaging.eventlog.add_events``, which the statistics hang off), the messages'
statuses move on (sent → delivered, → bounced, → dropped), hard bounces and complaints suppress
the address as the SMTP path does (``audience.suppressions``, ``audience.feedback``), soft
bounces suppress after ``OPENESP_SOFT_BOUNCE_LIMIT`` within ``OPENESP_SOFT_BOUNCE_WINDOW``, and
a policy bounce (5.7.x) is noted on the provider configuration instead. A chunk that fails is
retried row by row, so one bad row is kept as ``failed`` and cannot stop the rest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from openesp.audience.feedback import complaint_received, mark_contacts
from openesp.audience.models import ContactStatus, Suppression, SuppressionReason
from openesp.audience.suppressions import suppress_many
from openesp.esp.models import EspConfig
from openesp.esp.webhooks import Ignored, Malformed, ProviderEvent
from openesp.events.bounces import imap_mail_events, mail_events
from openesp.events.classify import SENDER, SOFT, classify
from openesp.events.inbox import PARSERS
from openesp.events.models import InboxEvent, Source, State
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message, Status

log = logging.getLogger("openesp.events")
CHUNK = 1000
SQLITE_GAP = 0.11  # seconds between two chunks on SQLite (see drain)
# The statuses an event may move a message from: a provider's report never revives a message
# that was cancelled, and a late "delivered" does not undo a bounce.
_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "delivered": (Status.DELIVERED, (Status.SENT,)),
    "bounced": (Status.BOUNCED, (Status.SENT, Status.DELIVERED)),
    "dropped": (Status.DROPPED, (Status.SENT,)),
}


@dataclass
class _Work:
    now: datetime
    events: list[Event] = field(default_factory=list)
    moves: dict[int, str] = field(default_factory=dict)  # message id → new status
    replies: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # bounced: code, text
    hard: list[Suppression] = field(default_factory=list)
    unsubscribed: list[Suppression] = field(default_factory=list)
    complaints: list[Event] = field(default_factory=list)
    soft: set[tuple[int, str]] = field(default_factory=set)
    sender_problems: dict[int, str] = field(default_factory=dict)  # provider config id → text
    engaged: set[tuple[int, str]] = field(default_factory=set)  # (message id, opened|clicked) seen before
    states: dict[int, tuple[str, str]] = field(default_factory=dict)  # inbox row → state, reason


@dataclass(frozen=True)
class Drained:
    handled: int
    backlog: bool  # stopped for time with a full chunk just done: more rows are likely waiting


def drain(budget: float = 1.0, chunk: int = CHUNK) -> Drained:
    """Process pending rows for up to ``budget`` seconds (at least one chunk)."""
    started, handled = time.monotonic(), 0
    while True:
        done = process_pending(chunk)
        handled += done
        if done < chunk:
            return Drained(handled, backlog=False)
        if time.monotonic() - started >= budget:
            return Drained(handled, backlog=True)
        if connection.vendor == "sqlite":
            # SQLite has one writer, and a waiting one polls every 100 ms at most: without a
            # gap longer than that between two chunks, a webhook request waiting to store its
            # batch could miss every chance and time out ("database is locked") under load.
            time.sleep(SQLITE_GAP)


def process_pending(limit: int = CHUNK) -> int:
    """Claim and process up to ``limit`` pending rows; how many were claimed."""
    try:
        with transaction.atomic():
            rows = _claim(limit)
            if rows:
                _process(rows)
            return len(rows)
    except Exception:
        log.exception("events: a chunk failed; processing its rows one by one")
    handled = 0
    with transaction.atomic():
        ids = [r.pk for r in _claim(limit)]
    for row_id in ids:
        try:
            with transaction.atomic():
                rows = list(InboxEvent.objects.select_for_update().filter(pk=row_id, state=State.PENDING))
                if rows:
                    _process(rows)
        except Exception as exc:
            log.exception("events: inbox row %s failed", row_id)
            InboxEvent.objects.filter(pk=row_id).update(
                state=State.FAILED, reason=f"{type(exc).__name__}: {exc}"[:300], processed_at=timezone.now()
            )
        handled += 1
    return handled


def _claim(limit: int) -> list[InboxEvent]:
    return list(
        InboxEvent.objects.select_for_update(skip_locked=True).filter(state=State.PENDING).order_by("id")[:limit]
    )


def _events_of(row: InboxEvent) -> list[ProviderEvent]:
    if row.source == Source.MX:
        return mail_events(row.payload)
    if row.source == Source.IMAP:
        return imap_mail_events(row.payload)
    return [PARSERS[row.source](row.payload)]


def _process(rows: list[InboxEvent]) -> None:
    work = _Work(now=timezone.now())
    parsed: list[tuple[InboxEvent, list[ProviderEvent]]] = []
    for row in rows:
        try:
            found = _events_of(row)
        except (Malformed, Ignored) as exc:
            work.states[row.pk] = (State.MALFORMED if isinstance(exc, Malformed) else State.IGNORED, str(exc))
            continue
        if not found:
            work.states[row.pk] = (State.IGNORED, "no bounce or complaint found in this mail")
            continue
        parsed.append((row, found))
    messages = _messages({e.message_ref for _r, found in parsed for e in found})
    work.engaged = _engaged([m.pk for m in messages.values()])
    for row, found in parsed:
        matched = [(e, _accepts(row, e, messages.get(e.message_ref))) for e in found]
        if all(m is None for _e, m in matched):
            work.states[row.pk] = (State.UNMATCHED, "names no message of ours")
            continue
        for event, message in sorted(matched, key=lambda pair: pair[0].occurred_at):
            if message is not None:
                _apply(event, message, work)
        work.states[row.pk] = (State.DONE, "")
    _write(work)


def _accepts(row: InboxEvent, event: ProviderEvent, message: Message | None) -> Message | None:
    """The message, unless a bounce fetched from a mailbox may not speak for it: only mail sent
    through the mailbox's own configuration, and, when the mail named it by Message-ID alone (no
    VERP address: weaker, anyone who got the mail knows it), only to the address reported."""
    if message is None or row.source != Source.IMAP:
        return message
    if str(message.provider_config_id) != event.extra.get("config"):
        return None
    if (
        event.extra.get("matched_by") == "message-id"
        and event.email
        and event.email.lower() != message.to_email.lower()
    ):
        return None
    return message


def _messages(refs: set[str]) -> dict[str, Message]:
    ids: dict[uuid.UUID, str] = {}
    for ref in refs:
        try:
            ids[uuid.UUID(ref)] = ref
        except ValueError:
            continue
    if not ids:
        return {}
    found = Message.objects.filter(public_id__in=list(ids)).only(
        "id", "public_id", "status", "workspace_id", "to_email", "provider_config_id"
    )
    return {ids[m.public_id]: m for m in found}


def _engaged(message_ids: list[int]) -> set[tuple[int, str]]:
    """The messages among these that were opened or clicked before, by event type."""
    if not message_ids:
        return set()
    return set(
        Event.objects.filter(message_id__in=message_ids, type__in=[EventType.OPENED, EventType.CLICKED])
        .values_list("message_id", "type")
        .distinct()
    )


def _apply(event: ProviderEvent, message: Message, work: _Work) -> None:
    """One event onto its message: the Event row, the move of status, what it means for the address."""
    data: dict[str, Any] = {
        "provider": event.provider,
        "event_id": event.event_id[:200],
        **{k: v for k, v in (("url", event.url), ("user_agent", event.user_agent), ("ip", event.ip)) if v},
        **event.extra,
    }
    if event.type in ("opened", "clicked"):
        # The statistics count unique opens and clicks by the message's first one, and human
        # ones unless the provider says a machine opened it (openesp/stats, "What is counted").
        data["first"] = (message.pk, event.type) not in work.engaged
        work.engaged.add((message.pk, event.type))
        if data.pop("machine", None):
            data["machine"] = True
    kind = ""
    if event.type == "bounced":
        kind = classify(event.enhanced_status, event.bounce, event.extra.get("error_related_to", ""))
        data["bounce"] = kind
    row = Event(
        message=message,
        type=EventType(event.type),
        created_at=event.occurred_at,
        smtp_code=event.smtp_code,
        enhanced_status=event.enhanced_status[:16],
        detail=event.text,
        data=data,
    )
    work.events.append(row)
    move = _MOVES.get(event.type)
    current = work.moves.get(message.pk, message.status)
    if move is not None and current in move[1]:
        work.moves[message.pk] = move[0]
        if event.type == "bounced":
            work.replies[message.pk] = (event.smtp_code, event.text)
    address = message.to_email.lower()
    if message.workspace_id is None:
        return  # platform mail: no suppression list or contacts to change
    if event.type == "complained":
        row.message = message
        work.complaints.append(row)
    elif event.type == "unsubscribed":
        work.unsubscribed.append(
            Suppression(workspace_id=message.workspace_id, email=address, reason=SuppressionReason.UNSUBSCRIBE,
                        detail=f"unsubscribed at {event.provider}", source_event=row, created_at=work.now)
        )  # fmt: skip
    elif kind == SENDER:
        if message.provider_config_id is not None:
            work.sender_problems[message.provider_config_id] = f"{event.enhanced_status} {event.text}".strip()[:300]
    elif kind == SOFT:
        work.soft.add((message.workspace_id, address))
    elif kind:
        work.hard.append(
            Suppression(workspace_id=message.workspace_id, email=address, reason=SuppressionReason.HARD_BOUNCE,
                        detail=f"{event.enhanced_status} {event.text}".strip()[:1000], source_event=row,
                        created_at=work.now)
        )  # fmt: skip


def _write(work: _Work) -> None:
    add_events(work.events)
    by_status: dict[str, list[int]] = defaultdict(list)
    for message_id, status in work.moves.items():
        if message_id not in work.replies:
            by_status[status].append(message_id)
    for status, ids in by_status.items():
        sources = next(m[1] for m in _MOVES.values() if m[0] == status)
        Message.objects.filter(id__in=ids, status__in=sources).update(status=status, updated_at=work.now)
    for message_id, (code, text) in work.replies.items():
        Message.objects.filter(id=message_id, status__in=_MOVES["bounced"][1]).update(
            status=work.moves[message_id], last_smtp_code=code, last_response=text, updated_at=work.now
        )
    hard = work.hard + _soft_limit_reached(work)
    suppress_many(hard, audit_source="delivery")
    mark_contacts(((s.workspace_id, s.email) for s in hard if s.workspace_id), ContactStatus.BOUNCED, work.now)
    suppress_many(work.unsubscribed, audit_source="delivery")
    for event in work.complaints:
        complaint_received(event)
    for config_id, text in work.sender_problems.items():
        EspConfig.objects.filter(pk=config_id).update(sender_problem=text, sender_problem_at=work.now)
    by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row_id, outcome in work.states.items():
        by_state[outcome].append(row_id)
    for (state, reason), ids in by_state.items():
        InboxEvent.objects.filter(id__in=ids).update(state=state, reason=reason[:300], processed_at=work.now)


def _soft_limit_reached(work: _Work) -> list[Suppression]:
    """Addresses whose soft bounces in the window (this chunk's included) reached the limit."""
    limit, window = settings.OPENESP_SOFT_BOUNCE_LIMIT, timedelta(seconds=settings.OPENESP_SOFT_BOUNCE_WINDOW)
    rows = []
    for workspace_id, address in sorted(work.soft):
        count = Event.objects.filter(
            type=EventType.BOUNCED,
            data__bounce=SOFT,
            created_at__gte=work.now - window,
            message__workspace_id=workspace_id,
            message__to_email__iexact=address,
        ).count()
        if count >= limit:
            rows.append(
                Suppression(workspace_id=workspace_id, email=address, reason=SuppressionReason.HARD_BOUNCE,
                            detail=f"{count} soft bounces within {window}", created_at=work.now)
            )  # fmt: skip
    return rows

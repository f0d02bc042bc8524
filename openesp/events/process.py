"""Working off the inbox: stored batches of provider events and bounce mail become what they mean.

Run by the delivery workers between claims (``drain``). Pending batches (``InboxBatch``) are
claimed in chunks of about ``CHUNK`` events, with ``SELECT … FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite's IMMEDIATE transactions serialise the workers), and processed set-wise in
one transaction: every event is parsed, all their messages are found in one query, and one
multi-row ``INSERT … ON CONFLICT (dedup_key) DO NOTHING`` writes an ``InboxEvent`` per event
with the state it ends in — the rows it does not insert are events seen before (a replay), which
change nothing. For the new ones the messaging events are written through the one event writer
(``messaging.eventlog.add_events``, which the statistics and the webhook outbox hang off), the
messages' statuses move on (sent → delivered, → bounced, → dropped), hard bounces and complaints
suppress the address as the SMTP path does (``audience.suppressions``, ``audience.feedback``),
soft bounces suppress after ``OPENESP_SOFT_BOUNCE_LIMIT`` within ``OPENESP_SOFT_BOUNCE_WINDOW``,
and a policy bounce (5.7.x) is noted on the provider configuration instead. A chunk that fails is
retried batch by batch, and a batch that fails event by event, so one bad event is kept as
``failed`` and cannot stop the rest.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

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
from openesp.events.inbox import EVENT_IDS, PARSERS, dedup_key
from openesp.events.models import InboxBatch, InboxEvent, Source, State
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message, Status

log = logging.getLogger("openesp.events")
# Events per transaction (whole batches; at least one batch). On SQLite the chunk is read and
# planned before the write lock (``_process_chunk``): a larger one keeps the lock free longer
# than the gap (``SQLITE_GAP``), which then costs nothing; the lock is held ~0.1 s per 5,000.
CHUNK = 2000
SQLITE_CHUNK = 5000
_CANDIDATES = 200  # pending batches looked at per claim
SQLITE_GAP = 0.11  # seconds between two chunks on SQLite (see drain)
# The statuses an event may move a message from: a provider's report never revives a message
# that was cancelled, and a late "delivered" does not undo a bounce. An ``unconfirmed`` message
# (a reminder or receipt whose worker died while sending it, decision 018) is settled by what
# the provider reports: whether it arrived was exactly what was not known.
_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "delivered": (Status.DELIVERED, (Status.SENT, Status.UNCONFIRMED)),
    "bounced": (Status.BOUNCED, (Status.SENT, Status.DELIVERED, Status.UNCONFIRMED)),
    "dropped": (Status.DROPPED, (Status.SENT, Status.UNCONFIRMED)),
}
_UNMATCHED = "names no message of ours"


@dataclass
class _Item:
    """One event of a batch, read: its key, what it says (or why it says nothing) and its fate."""

    batch_id: int
    source: str
    received_at: Any  # as the database gave it: passed back unchanged
    payload: Any
    key: str | None
    events: list[ProviderEvent]
    state: str = State.DONE
    reason: str = ""


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


@dataclass(frozen=True)
class Drained:
    handled: int
    backlog: bool  # stopped for time with more batches waiting


def drain(budget: float = 1.0, chunk: int | None = None) -> Drained:
    """Process pending batches for up to ``budget`` seconds (at least one chunk); events handled."""
    chunk = chunk or (SQLITE_CHUNK if connection.vendor == "sqlite" else CHUNK)
    started, handled, lock_after = time.monotonic(), 0, 0.0
    while True:
        done, more = _process_chunk(chunk, lock_after)
        handled += done
        if not more:
            return Drained(handled, backlog=False)
        if time.monotonic() - started >= budget:
            return Drained(handled, backlog=True)
        # SQLite has one writer, and a waiting one polls every 100 ms at most: without a gap
        # longer than that between two chunks' writes, a webhook request waiting to store its
        # batch could miss every chance and time out ("database is locked") under load. The
        # next chunk is read and planned during the gap (``_process_chunk``).
        lock_after = time.monotonic() + SQLITE_GAP


def process_pending(limit: int = CHUNK) -> int:
    """Claim and process pending batches of up to ``limit`` events in all; how many events."""
    return _process_chunk(limit)[0]


@dataclass(frozen=True)
class _Batch:
    id: int
    source: str
    received_at: Any
    body: str
    events: int


def _process_chunk(limit: int, lock_after: float = 0.0) -> tuple[int, bool]:
    """(events handled, whether more batches wait). On SQLite the write lock is taken no sooner
    than ``lock_after`` (``time.monotonic()``)."""
    try:
        if connection.vendor == "sqlite":
            # One writer at a time: everything that only reads — the claim, parsing, finding
            # the messages, building the events — is done before the write lock is taken, so
            # a webhook request waiting to store its batch gets in meanwhile. The lock then
            # checks that no other process took the batches and that nothing read has changed.
            batches, more = _claim(limit)
            plan = _plan(batches)
            if plan is None:
                return 0, False
            time.sleep(max(0.0, lock_after - time.monotonic()))
            with transaction.atomic():
                if not _record(plan, recheck=True):
                    return 0, True  # another worker took them: claim again
        else:
            with transaction.atomic():
                batches, more = _claim(limit)
                plan = _plan(batches)
                if plan is not None:
                    _record(plan)
        return sum(b.events for b in batches), more
    except Exception:
        log.exception("events: a chunk failed; processing its batches one by one")
    with transaction.atomic():
        claimed = _claim(limit)[0]
    for batch in claimed:
        try:
            with transaction.atomic():
                plan = _plan(_locked([batch.id]))
                if plan is not None:
                    _record(plan)
        except Exception:
            log.exception("events: inbox batch %s failed; processing its events one by one", batch.id)
            _one_by_one(batch.id)
    return sum(b.events for b in claimed), bool(claimed)


def _claim(limit: int) -> tuple[list[_Batch], bool]:
    """The oldest pending batches of about ``limit`` events (at least one), locked; whether more wait."""
    table = InboxBatch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, events FROM {table} WHERE state = 'pending' ORDER BY id LIMIT %s",  # noqa: S608 - our names
            [_CANDIDATES],
        )
        candidates = cursor.fetchall()
    count = total = 0
    for _batch_id, events in candidates:
        if count and total + events > limit:
            break
        count += 1
        total += events
    if not count:
        return [], False
    # That many of the oldest pending batches another worker has not locked (PostgreSQL applies
    # the LIMIT after skipping locked rows), so two workers take different ones.
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, source, received_at, body, events FROM {table} WHERE state = 'pending'"  # noqa: S608
            f" ORDER BY id LIMIT %s{lock}",
            [count],
        )
        return [_Batch(*row) for row in cursor.fetchall()], count < len(candidates)


def _locked(ids: list[int]) -> list[_Batch]:
    """These batches if still pending, locked for this transaction (skipped if another has them)."""
    if not ids:
        return []
    table = InboxBatch._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, source, received_at, body, events FROM {table}"  # noqa: S608 - our names
            f" WHERE id IN ({marks}) AND state = 'pending' ORDER BY id{lock}",
            ids,
        )
        return [_Batch(*row) for row in cursor.fetchall()]


def _elements(batch: _Batch) -> list[Any]:
    try:
        body = json.loads(batch.body)
    except ValueError:
        body = batch.body  # not JSON (the request checks it is): one malformed event, kept
    return body if isinstance(body, list) else [body]


def _key(batch: _Batch, element: Any) -> str | None:
    found = EVENT_IDS[batch.source](element)
    return dedup_key(batch.source, found) if found else None


def _read(batch: _Batch, element: Any) -> _Item:
    """One event, read: parsed, or malformed or ignored with the reason."""
    item = _Item(batch.id, batch.source, batch.received_at, element, _key(batch, element), [])
    try:
        item.events = _events_of(batch.source, element)
        if not item.events:
            item.state, item.reason = State.IGNORED, "no bounce or complaint found in this mail"
    except (Malformed, Ignored) as exc:
        item.state = State.MALFORMED if isinstance(exc, Malformed) else State.IGNORED
        item.reason = str(exc)
    return item


def _events_of(source: str, element: Any) -> list[ProviderEvent]:
    if source == Source.MX:
        return mail_events(element)
    if source == Source.IMAP:
        return imap_mail_events(element)
    return [PARSERS[source](element)]


def _accepts(source: str, event: ProviderEvent, message: _Message | None) -> _Message | None:
    """The message, unless a bounce fetched from a mailbox may not speak for it: only mail sent
    through the mailbox's own configuration, and, when the mail named it by Message-ID alone (no
    VERP address: weaker, anyone who got the mail knows it), only to the address reported."""
    if message is None or source != Source.IMAP:
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


def _items(batch: _Batch) -> list[_Item]:
    return [_read(batch, element) for element in _elements(batch)]


def _one_by_one(batch_id: int) -> None:
    """A batch whose chunk failed: each event in a transaction of its own; a failing one is kept
    as ``failed`` with the error. A crash midway leaves the batch pending: the events already
    done are duplicates the next time."""
    batches = InboxBatch.objects.filter(pk=batch_id, state=State.PENDING).values_list(
        "id", "source", "received_at", "body", "events"
    )
    if not batches:
        return
    batch = _Batch(*batches[0])
    duplicates = 0
    for element in _elements(batch):
        now = timezone.now()
        try:
            with transaction.atomic():
                plan = _prepare([_read(batch, element)], now)
                duplicates += _record_items(plan).get(batch_id, 0)
        except Exception as exc:
            log.exception("events: an event of inbox batch %s failed", batch_id)
            reason = f"{type(exc).__name__}: {exc}"
            failed = _Item(batch.id, batch.source, batch.received_at, element, _key(batch, element), [],
                           State.FAILED, reason)  # fmt: skip
            with transaction.atomic():
                inserted = _insert_events([failed], now)
            if failed.key is not None and failed.key not in inserted:
                duplicates += 1  # seen (and done, or failed) before
    with transaction.atomic():
        _finish({batch_id: duplicates}, timezone.now())


def _finish(duplicates: dict[int, int], now: datetime) -> None:
    by_count: dict[int, list[int]] = defaultdict(list)
    for batch_id, count in duplicates.items():
        by_count[count].append(batch_id)
    for count, ids in by_count.items():
        InboxBatch.objects.filter(id__in=ids).update(state=State.DONE, duplicates=count, processed_at=now)


@dataclass
class _Plan:
    """A chunk read and worked out, ready to be written."""

    now: datetime
    batches: list[_Batch]
    unique: list[_Item]  # the chunk's events, each key once
    messages: dict[str, _Message]
    duplicates: Counter[int]  # per batch: events whose key came earlier in the chunk
    engaged: set[tuple[int, str]]
    work: _Work


def _plan(batches: list[_Batch]) -> _Plan | None:
    if not batches:
        return None
    plan = _prepare([item for batch in batches for item in _items(batch)], timezone.now())
    plan.batches = batches
    return plan


def _prepare(items: list[_Item], now: datetime) -> _Plan:
    """Everything that only reads: the messages named, each event's fate, the events to write."""
    messages = _messages({e.message_ref for item in items if item.state == State.DONE for e in item.events})
    for item in items:
        if item.state == State.DONE and all(
            _accepts(item.source, e, messages.get(e.message_ref)) is None for e in item.events
        ):
            item.state, item.reason = State.UNMATCHED, _UNMATCHED
    # A key twice in one chunk (a provider's retry beside the original): the first one counts.
    seen: set[str] = set()
    duplicates: Counter[int] = Counter()
    unique = []
    for item in items:
        if item.key is not None:
            if item.key in seen:
                duplicates[item.batch_id] += 1
                continue
            seen.add(item.key)
        unique.append(item)
    fresh = _fresh(unique, messages, None)
    engaged = _engaged(fresh)
    return _Plan(now, [], unique, messages, duplicates, engaged, _work(fresh, engaged, now))


def _fresh(
    items: list[_Item], messages: dict[str, _Message], new: set[str] | None
) -> list[tuple[ProviderEvent, _Message]]:
    """The events to record: of done items (whose key is ``new``, when known), with their message."""
    return [
        (e, m)
        for item in items
        if item.state == State.DONE and (new is None or item.key is None or item.key in new)
        for e in item.events
        if (m := _accepts(item.source, e, messages.get(e.message_ref))) is not None
    ]


def _work(fresh: list[tuple[ProviderEvent, _Message]], engaged: set[tuple[int, str]], now: datetime) -> _Work:
    work = _Work(now=now, engaged=set(engaged))
    # In the order things happened: a message's first open is the earliest one.
    for event, message in sorted(fresh, key=lambda pair: pair[0].occurred_at):
        _apply(event, message, work)
    return work


def _record(plan: _Plan, *, recheck: bool = False) -> bool:
    """Write a planned chunk in the caller's transaction; False (nothing written) when
    ``recheck`` finds a batch no longer pending."""
    if recheck and len(_locked([b.id for b in plan.batches])) != len(plan.batches):
        return False
    duplicates = _record_items(plan, recheck=recheck)
    by_batch = {b.id: 0 for b in plan.batches}
    for batch_id, count in plan.duplicates.items():
        by_batch[batch_id] += count
    _finish({b: by_batch[b] + duplicates.get(b, 0) for b in by_batch}, plan.now)
    return True


def _record_items(plan: _Plan, *, recheck: bool = False) -> Counter[int]:
    """The events' ``InboxEvent`` rows, then what the new ones mean; per batch, the events whose
    key was stored before (``recheck``: the plan was made before the write lock)."""
    new = _insert_events(plan.unique, plan.now)
    duplicates: Counter[int] = Counter()
    for item in plan.unique:
        if item.key is not None and item.key not in new:
            duplicates[item.batch_id] += 1
    work = plan.work
    if duplicates:  # seen before: the plan assumed every event new
        fresh = _fresh(plan.unique, plan.messages, new)
        work = _work(fresh, _engaged(fresh) if recheck else plan.engaged, plan.now)
    elif recheck:  # read before the lock: an open recorded since by another process changes "first"
        engaged = _engaged(_fresh(plan.unique, plan.messages, None))
        if engaged != plan.engaged:
            work = _work(_fresh(plan.unique, plan.messages, None), engaged, plan.now)
    _write(work)
    return duplicates


def _insert_events(items: list[_Item], now: datetime) -> set[str]:
    """``INSERT … ON CONFLICT (dedup_key) DO NOTHING`` of the events' rows; the keys inserted.

    A done event's payload is in its batch's body and its messaging event: not stored a third time.
    On PostgreSQL one array per column (see ``lib.fastinsert``), elsewhere 1,000 rows per ``VALUES``.
    """
    if not items:
        return set()
    table = InboxEvent._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    # In key order: two workers inserting the same keys (a batch and its replay, split at once)
    # wait for each other on the unique index instead of deadlocking.
    ordered = sorted(items, key=lambda item: (item.key is None, item.key or ""))
    rows = [
        (item.source, item.batch_id, item.received_at, item.key, item.state, item.reason[:300],
         None if item.state == State.DONE else _json(item.payload), at)
        for item in ordered
    ]  # fmt: skip
    head = f"INSERT INTO {table} (source, batch_id, received_at, dedup_key, state, reason, payload, processed_at) "
    tail = " ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key"
    inserted: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ("varchar(12)", "bigint", "timestamptz", "varchar(64)", "varchar(12)", "varchar(300)", "jsonb",
                     "timestamptz")  # fmt: skip
            unnest = ", ".join(f"%s::{t}[]" for t in types)
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(f"{head}SELECT * FROM unnest({unnest}){tail}", columns)  # noqa: S608 - our names
            inserted.update(key for (key,) in cursor.fetchall() if key is not None)
            return inserted
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(f"{head}VALUES {values}{tail}", [value for row in chunk for value in row])
            inserted.update(key for (key,) in cursor.fetchall() if key is not None)
    return inserted


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # PostgreSQL's jsonb cannot hold NUL in a string: keep the event, without it (rare path).
    return json.dumps(_without_nul(value), ensure_ascii=False) if "\\u0000" in text else text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


class _Message(NamedTuple):
    """What processing reads of a message: a tuple, not a model instance (a thousand a chunk)."""

    pk: int
    public_id: uuid.UUID
    status: str
    workspace_id: int | None
    to_email: str
    provider_config_id: int | None


def _messages(refs: set[str]) -> dict[str, _Message]:
    ids: dict[uuid.UUID, str] = {}
    for ref in refs:
        try:
            ids[uuid.UUID(ref)] = ref
        except ValueError:
            continue
    if not ids:
        return {}
    found = Message.objects.filter(public_id__in=list(ids)).values_list(*_Message._fields)
    return {ids[row[1]]: _Message(*row) for row in found}


# (message public id, opened|clicked) known to have been opened or clicked: true for good once
# true (an event is never taken back, a public id never reused), so a worker need not ask again.
# Cleared when it grows too large.
_ENGAGED_SEEN: set[tuple[uuid.UUID, str]] = set()
_ENGAGED_SEEN_MAX = 500_000


def _engaged(fresh: list[tuple[ProviderEvent, _Message]]) -> set[tuple[int, str]]:
    """The (message, type) pairs among ``fresh``'s opens and clicks that happened before."""
    pairs = {(m.pk, e.type): m.public_id for e, m in fresh if e.type in ("opened", "clicked")}
    known = {pair for pair, public_id in pairs.items() if (public_id, pair[1]) in _ENGAGED_SEEN}
    asked = sorted({pk for pk, _type in pairs.keys() - known})
    if not asked:
        return known
    found: set[tuple[int, str]] = set()
    event, message = Event._meta.db_table, Message._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(asked), 900):
            chunk = asked[start : start + 900]
            # EXISTS stops at a message's first open (or click), found by the (message, created_at)
            # index; a plain DISTINCT would read every event of every message in the chunk.
            cursor.execute(
                f"SELECT m.id, t.type FROM {message} m,"  # noqa: S608 - our names
                f" (SELECT '{EventType.OPENED}' AS type UNION ALL SELECT '{EventType.CLICKED}') t"
                f" WHERE m.id IN ({', '.join(['%s'] * len(chunk))})"
                f" AND EXISTS (SELECT 1 FROM {event} e WHERE e.message_id = m.id AND e.type = t.type)",
                chunk,
            )
            found.update((pk, str(kind)) for pk, kind in cursor.fetchall())
    found &= pairs.keys()
    if len(_ENGAGED_SEEN) > _ENGAGED_SEEN_MAX:
        _ENGAGED_SEEN.clear()
    _ENGAGED_SEEN.update((pairs[pair], pair[1]) for pair in found)
    return known | found


def _apply(event: ProviderEvent, message: _Message, work: _Work) -> None:
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
        message_id=message.pk,
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
    complained = Message.objects.in_bulk([e.message_id for e in work.complaints])
    for event in work.complaints:
        event.message = complained[event.message_id]
        complaint_received(event)
    for config_id, text in work.sender_problems.items():
        EspConfig.objects.filter(pk=config_id).update(sender_problem=text, sender_problem_at=work.now)


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

"""Counting events into the daily counters, set-wise: one upsert per counter row per batch.

``count_events`` is a listener of ``messaging.eventlog`` and runs in the transaction that writes
the events, so a counter never counts an event that was rolled back. ``count_queued_campaign_mail``
is the campaigns' hook for the mail they queue set-wise without a ``queued`` event per message.

Event to counter (docs/statistics.md, "What is counted"):

- ``queued`` → ``requested``; ``sent``, ``delivered``, ``deferred``, ``dropped``, ``complained``,
  ``unsubscribed``, ``responded`` → the counter of that name; ``cancelled`` → nothing.
- ``bounced`` → ``bounced_hard`` or ``bounced_soft`` (``bounce_kind``).
- ``opened`` / ``clicked`` → ``opened`` / ``clicked`` (every one), ``…_unique`` when
  ``Event.data["first"]`` is true (the message's first), ``…_human`` unless
  ``Event.data["machine"]`` is true.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection

from openesp.campaigns.models import Campaign, CampaignMessage
from openesp.lib.fastread import values_by_ids
from openesp.messaging.models import Event, EventType, Message
from openesp.stats.models import COUNTERS, LATENCY_BOUNDS, DailyCounter, SendLatency

# (workspace id or 0, day, category, provider kind, campaign id or 0)
Key = tuple[int, date, str, str, int]

_SAME_NAME = {
    EventType.SENT: "sent",
    EventType.DELIVERED: "delivered",
    EventType.DEFERRED: "deferred",
    EventType.DROPPED: "dropped",
    EventType.COMPLAINED: "complained",
    EventType.UNSUBSCRIBED: "unsubscribed",
    EventType.RESPONDED: "responded",
    EventType.QUEUED: "requested",
}
# What counting reads of a message whose events it counts.
_LOOKED_UP = ("id", "workspace_id", "category", "provider_kind", "created_at")
_CHUNK = 500  # ids per look-up and rows per upsert: well inside every database's parameter limit


def bounce_kind(event: Event) -> str:
    """``hard`` or ``soft``. ``Event.data["bounce"]`` decides when it says ``hard`` or ``soft``
    (``expired`` — retried temporary failures until openesp gave up — is soft); otherwise the
    enhanced status (5.x.x hard, 4.x.x soft), then the SMTP code; without either, hard."""
    said = str((event.data or {}).get("bounce", ""))
    if said in ("hard", "soft"):
        return said
    if said == "expired":
        return "soft"
    if event.enhanced_status[:2] in ("4.", "5."):
        return "soft" if event.enhanced_status.startswith("4.") else "hard"
    if event.smtp_code is not None and 400 <= event.smtp_code < 500:
        return "soft"
    return "hard"


def counters_of(event: Event) -> list[str]:
    """The counters one event adds 1 to."""
    kind = event.type
    if kind in _SAME_NAME:
        return [_SAME_NAME[EventType(kind)]]
    if kind == EventType.BOUNCED:
        return [f"bounced_{bounce_kind(event)}"]
    if kind in (EventType.OPENED, EventType.CLICKED):
        data = event.data or {}
        name = str(kind)
        names = [name]
        if data.get("first") is True:
            names.append(f"{name}_unique")
        if data.get("machine") is not True:
            names.append(f"{name}_human")
        return names
    return []


def count_events(events: Sequence[Event]) -> None:
    """Add a batch of just-written events to the counters (and sends to the latency histogram)."""
    ids = sorted({e.message_id for e in events})
    messages = _held_by_the_writer(events)
    campaigns: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        unknown = [pk for pk in chunk if pk not in messages]
        # By SQL planned once (lib.fastread): the ORM compiled this 500-value IN value by value
        # for every batch the worker records.
        for row in values_by_ids(Message, unknown, _LOOKED_UP):
            messages[row[0]] = dict(zip(_LOOKED_UP, row, strict=True))
        campaigns.update(_campaigns_of(chunk))
    deltas: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    latency: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
    for event in events:
        message = messages.get(event.message_id)
        names = counters_of(event)
        if message is None or not names:
            continue
        # A message's provider is chosen when it is sent: ``requested`` counts under no provider.
        provider = "" if event.type == EventType.QUEUED else message["provider_kind"]
        key = (
            message["workspace_id"] or 0,
            event.created_at.astimezone(UTC).date(),  # the UTC day, whatever zone the writer used
            message["category"],
            provider,
            campaigns.get(event.message_id, 0),
        )
        for name in names:
            deltas[key][name] += 1
        if event.type == EventType.SENT:
            waited = max((event.created_at - message["created_at"]).total_seconds(), 0.0)
            cell = latency[(provider, bisect.bisect_left(LATENCY_BOUNDS, waited))]
            cell[0] += 1
            cell[1] += waited
    add_counts(deltas)
    _add_latency(latency)


def _held_by_the_writer(events: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """What counting needs of the messages whose only events here are ``queued`` and whose
    writer handed them over with the events (``Event(message=…)``: every send does), read from
    those objects instead of the database. A ``queued`` event counts under no provider and
    needs only the workspace and category, which a message keeps from its creation; the
    look-up this spares was most of the listener's cost on the API's accept path
    (docs/benchmarks.md, "Accepting mail over HTTP")."""
    others = {e.message_id for e in events if e.type != EventType.QUEUED}
    held: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.type == EventType.QUEUED and event.message_id not in others and Event.message.is_cached(event):
            message = event.message
            held[message.pk] = {
                "id": message.pk,
                "workspace_id": message.workspace_id,
                "category": message.category,
                "provider_kind": "",
                "created_at": message.created_at,
            }
    return held


_CAMPAIGNS_OF: dict[str, str] = {}  # per database alias: the look-up's SQL, less its IN list


def _campaigns_of(message_ids: list[int]) -> dict[int, int]:
    """Message id → campaign id for those of ``message_ids`` that a campaign sent: plain SQL made
    once per database (the ORM compiled this query anew for every batch of events)."""
    sql = _CAMPAIGNS_OF.get(connection.alias)
    if sql is None:
        meta, quote = CampaignMessage._meta, connection.ops.quote_name
        message, campaign = (quote(f"{name}_id") for name in ("message", "campaign"))  # the foreign keys' columns
        # Only the model's own table and column names; the ids are parameters.
        sql = _CAMPAIGNS_OF[connection.alias] = (
            f"SELECT {message}, {campaign} FROM {quote(meta.db_table)} WHERE {message} IN "  # noqa: S608
        )
    with connection.cursor() as cursor:
        cursor.execute(sql + "(" + ", ".join(["%s"] * len(message_ids)) + ")", message_ids)
        return dict(cursor.fetchall())


def count_queued_campaign_mail(campaign: Campaign, category: str, now: datetime, count: int) -> None:
    """The campaigns' hook: ``count`` messages of ``campaign`` queued set-wise (no events)."""
    if count:
        add_counts(
            {(campaign.workspace_id, now.astimezone(UTC).date(), category, "", campaign.pk): {"requested": count}}
        )


def add_counts(deltas: dict[Key, dict[str, int]]) -> None:
    """Add ``deltas`` to the counter rows, making the missing ones: one upsert per 500 rows."""
    day = connection.ops.adapt_datefield_value
    # In key order: two transactions adding to the same rows lock them in the same order, so
    # they wait for each other instead of deadlocking (PostgreSQL locks the rows as it goes).
    rows = [
        (workspace, day(on), category, provider, campaign, *(counts.get(name, 0) for name in COUNTERS))
        for (workspace, on, category, provider, campaign), counts in sorted(deltas.items())
    ]
    keys = ("workspace_id", "day", "category", "provider", "campaign_id")
    _upsert(DailyCounter._meta.db_table, keys, COUNTERS, rows)


def _add_latency(latency: dict[tuple[str, int], list[float]]) -> None:
    rows = [(provider, bucket, int(n), seconds) for (provider, bucket), (n, seconds) in sorted(latency.items())]
    _upsert(SendLatency._meta.db_table, ("provider", "bucket"), ("n", "seconds"), rows)


def _upsert(table: str, keys: Sequence[str], values: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET v = v + excluded.v``: SQLite and PostgreSQL
    both speak it, and it adds, which Django's ``bulk_create(update_conflicts=True)`` cannot."""
    rows = list(rows)
    if not rows:
        return
    q = connection.ops.quote_name
    columns = ", ".join(q(name) for name in (*keys, *values))
    one = "(" + ", ".join(["%s"] * (len(keys) + len(values))) + ")"
    adds = ", ".join(f"{q(v)} = {q(table)}.{q(v)} + excluded.{q(v)}" for v in values)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            cursor.execute(
                f"INSERT INTO {q(table)} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608 - our names
                f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {adds}",
                [value for row in chunk for value in row],
            )

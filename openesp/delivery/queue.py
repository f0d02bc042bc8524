"""The messages table as a queue: batch claims with a lease, batch write-back.

A message is due when it is ``queued``/``deferred`` with ``not_before <= now``, or when it is
``sending`` under a lease that has run out (its worker died) — unless it is of an at-most-once
category and its worker had begun sending it: that one is settled instead (``settle_unfinished``,
decision 018). One ``UPDATE … RETURNING`` claims
a whole batch: on PostgreSQL the inner ``SELECT … FOR UPDATE SKIP LOCKED`` lets many workers
claim side by side without waiting on each other; SQLite has one writer at a time anyway
(IMMEDIATE transactions, see settings), so there the same statement is simply serialised.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from openesp.lib.ratelimit import release_holders, renew_holder
from openesp.lib.workers import gone_on_this_host
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message, Status

# What an at-most-once message whose worker stopped while sending it says (decision 018).
NOT_SENT_AGAIN = (
    "the worker stopped while sending it, so whether it arrived is unknown; "
    "not sent again so that it is never received twice"
)
ACCEPTED_UNRECORDED = "accepted by the provider; recorded after its worker stopped (the reply was not kept)"


def claim(worker: str, *, limit: int = 200, lease: timedelta = timedelta(minutes=5)) -> list[int]:
    """Claim up to ``limit`` due messages for ``worker``; returns their ids, oldest first."""
    now = timezone.now()
    table = Message._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # Two index-friendly halves: due rows (partial index on not_before) and expired leases.
    sql = f"""
        UPDATE {table}
           SET status = %s, lease_owner = %s, lease_until = %s, attempts = attempts + 1, updated_at = %s
         WHERE id IN (
             SELECT id FROM (
                 SELECT id, not_before FROM {table}
                  WHERE status IN ('queued', 'deferred') AND not_before <= %s
                  ORDER BY not_before, id LIMIT %s {lock}
             ) AS due
             UNION ALL
             SELECT id FROM (
                 SELECT id FROM {table}
                  WHERE status = 'sending' AND lease_until < %s AND started_attempt < attempts
                  ORDER BY lease_until, id LIMIT %s {lock}
             ) AS stale
         )
        RETURNING id
    """  # noqa: S608 - only the table name (ours) is interpolated; values are parameters
    with transaction.atomic(), connection.cursor() as cursor:
        # First, in the same transaction: expired leases that must not be sent again. Those it
        # leaves for the next claim (more than ``limit``) the claim skips too: started_attempt <
        # attempts, which is 0 < n for every message never marked.
        settle_unfinished(now, limit)
        cursor.execute(sql, [Status.SENDING, worker, now + lease, now, now, limit, now, limit])
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids


def settle_unfinished(now: datetime, limit: int) -> int:
    """End, instead of sending again, the at-most-once messages (``AT_MOST_ONCE``) whose lease ran
    out after their worker had begun sending them (``started_attempt == attempts``): ``sent`` if
    the provider's acceptance had been marked, else ``unconfirmed`` — whether it arrived is
    unknown, and a second copy is what these categories must never cause. Each gets an event
    saying so. Runs in the claim's transaction, before the claim; returns how many it settled.

    Messages of other categories never carry a start mark, and at-most-once ones a worker had not
    begun are claimed again as usual: nothing that was never tried is lost.
    """
    table = Message._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # The lease index (status = 'sending', lease_until) finds the candidates; usually none.
    sql = f"""
        SELECT id, lease_owner, accepted_attempt = attempts FROM {table}
         WHERE status = %s AND lease_until < %s AND started_attempt = attempts AND started_attempt > 0
         ORDER BY lease_until, id LIMIT %s {lock}
    """  # noqa: S608 - only the table name (ours) is interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.SENDING, now, limit])
        rows = cursor.fetchall()
    if not rows:
        return 0
    accepted = [pk for pk, _owner, ok in rows if ok]
    unconfirmed = [pk for pk, _owner, ok in rows if not ok]
    owners = {pk: owner for pk, owner, _ok in rows}
    ended = Message.objects.filter(id__in=[pk for pk, _o, _a in rows], status=Status.SENDING)
    common = {"lease_owner": "", "lease_until": None, "updated_at": now}
    events: list[Event] = []
    if accepted:
        ended.filter(id__in=accepted).update(
            status=Status.SENT, sent_at=now, last_response=ACCEPTED_UNRECORDED, **common
        )
        events += [
            Event(message_id=pk, type=EventType.SENT, created_at=now, detail=ACCEPTED_UNRECORDED,
                  data={"worker": owners[pk], "recovered": True})
            for pk in accepted
        ]  # fmt: skip
    if unconfirmed:
        ended.filter(id__in=unconfirmed).update(status=Status.UNCONFIRMED, last_response=NOT_SENT_AGAIN, **common)
        events += [
            Event(message_id=pk, type=EventType.UNCONFIRMED, created_at=now, detail=NOT_SENT_AGAIN,
                  data={"worker": owners[pk]})
            for pk in unconfirmed
        ]  # fmt: skip
    add_events(events)
    return len(rows)


def mark_started(worker: str, ids: list[int]) -> set[int]:
    """Commit that the current attempt of these at-most-once messages begins; returns the ids
    still leased to ``worker`` (only those may be sent). Called right before their SMTP
    transaction or provider call: from then on a lost lease ends them (``settle_unfinished``)
    instead of sending them again."""
    return _mark("started_attempt", worker, ids)


def mark_accepted(worker: str, ids: list[int]) -> set[int]:
    """Commit that the provider accepted these at-most-once messages, before the batch is recorded:
    a worker that dies in between leaves them ``sent`` rather than ``unconfirmed``."""
    return _mark("accepted_attempt", worker, ids)


def _mark(column: str, worker: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    table = Message._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    sql = f"""
        UPDATE {table} SET {column} = attempts
         WHERE id IN ({marks}) AND lease_owner = %s AND status = %s
        RETURNING id
    """  # noqa: S608 - our own table and column names only; values are parameters
    # One statement in its own transaction (autocommit): durable before the caller goes on.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*ids, worker, Status.SENDING])
        return {row[0] for row in cursor.fetchall()}


def renew_leases(worker: str, lease: timedelta, *, let_go: Collection[int] = ()) -> int:
    """Extend by ``lease`` from now every lease ``worker`` holds — the messages it has claimed
    and its connection slots — except those of the messages in ``let_go``; returns how many
    messages. The worker's heartbeat: leases can be short (a dead worker's messages come back
    soon) and still outlast a long batch. ``let_go``: messages the worker gave up on (their
    record, sending or planning failed), whose leases must run out so that they are sent again."""
    renew_holder(worker, lease.total_seconds())
    with transaction.atomic():
        # SKIP LOCKED: a message whose row is locked is being recorded by this worker's own
        # database thread, which is ending its lease anyway. Waiting for it, while holding the
        # rows renewed so far that the record may want next, is a deadlock (PostgreSQL then
        # fails the record); skipping waits for nothing.
        # Only leases that have not run out: one that has is free for any worker to claim, and
        # renewing it would take back a message already let go.
        held = Message.objects.select_for_update(skip_locked=True).filter(
            status=Status.SENDING, lease_owner=worker, lease_until__gt=timezone.now()
        )
        if let_go:
            held = held.exclude(id__in=list(let_go))
        ids = list(held.values_list("id", flat=True))
        return Message.objects.filter(id__in=ids).update(lease_until=timezone.now() + lease)


def reclaim_dead_leases(host: str | None = None) -> int:
    """Release at once the leases of workers of this host whose process is gone (killed,
    crashed, the machine restarted), and their connection slots; returns how many messages.

    A worker calls it when it starts: a supervisor that restarts a dead worker then has its
    messages sending again within seconds instead of after the whole lease. Only what was in
    flight when the process died can go out twice, as with an expired lease.
    """
    now = timezone.now()
    leased = Message.objects.filter(status=Status.SENDING, lease_until__gt=now)
    owners = set(leased.values_list("lease_owner", flat=True).distinct())
    dead = [owner for owner in owners if gone_on_this_host(owner, host)]
    if not dead:
        return 0
    release_holders(dead)
    return leased.filter(lease_owner__in=dead).update(lease_until=now)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: first retry ~1 min, capped at ~1 h, expiry after 5 days."""

    first: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)
    lifetime: timedelta = timedelta(days=5)
    jitter: float = 0.2

    def next_attempt(self, attempts: int, now: datetime) -> datetime:
        delay = min(self.first.total_seconds() * 2 ** max(attempts - 1, 0), self.cap.total_seconds())
        # Jitter spreads retries of a burst that failed together (a provider outage).
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        return now + timedelta(seconds=delay)

    def expired(self, created_at: datetime, now: datetime) -> bool:
        return now - created_at >= self.lifetime

    @classmethod
    def from_settings(cls) -> Backoff:
        return cls(
            first=timedelta(seconds=settings.OPENESP_RETRY_FIRST_SECONDS),
            cap=timedelta(seconds=max(settings.OPENESP_RETRY_MAX_SECONDS, settings.OPENESP_RETRY_FIRST_SECONDS)),
            lifetime=timedelta(hours=settings.OPENESP_MESSAGE_LIFETIME_HOURS),
        )

"""The messages table as a queue: batch claims with a lease, batch write-back.

A message is due when it is ``queued``/``deferred`` with ``not_before <= now``, or when it is
``sending`` under a lease that has run out (its worker died). One ``UPDATE … RETURNING`` claims
a whole batch: on PostgreSQL the inner ``SELECT … FOR UPDATE SKIP LOCKED`` lets many workers
claim side by side without waiting on each other; SQLite has one writer at a time anyway
(IMMEDIATE transactions, see settings), so there the same statement is simply serialised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from openesp.lib.ratelimit import release_holders, renew_holder
from openesp.lib.workers import gone_on_this_host
from openesp.messaging.models import Message, Status


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
                  WHERE status = 'sending' AND lease_until < %s
                  ORDER BY lease_until, id LIMIT %s {lock}
             ) AS stale
         )
        RETURNING id
    """  # noqa: S608 - only the table name (ours) is interpolated; values are parameters
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [Status.SENDING, worker, now + lease, now, now, limit, now, limit])
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids


def renew_leases(worker: str, lease: timedelta) -> int:
    """Extend by ``lease`` from now every lease ``worker`` holds — the messages it has claimed
    and its connection slots; returns how many messages. The worker's heartbeat: leases can be
    short (a dead worker's messages come back soon) and still outlast a long batch."""
    renew_holder(worker, lease.total_seconds())
    held = Message.objects.filter(status=Status.SENDING, lease_owner=worker)
    return held.update(lease_until=timezone.now() + lease)


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

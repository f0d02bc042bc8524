"""Rate limits that hold across all workers: state lives in the database.

Two limits per provider config, both optional:
- ``per_second``: a token bucket (burst = one second's worth), for APIs that count per second;
- ``window``: at most N messages per period, as a sliding window estimated from the current
  and the previous fixed window (Cloudflare's approach: exact enough, two integers of state).

``acquire`` grants up to ``wanted`` messages now and says how long to wait for the rest. The
row is locked for the read-modify-write (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
IMMEDIATE transactions serialise writers anyway).

The abuse limits of the public doors (``openesp/accounts/limits.py``) use the same rows: an
``acquire`` given a ``reason`` that is refused marks its key *blocked* until more may be
granted, and ``record_failure`` counts failures (wrong passwords) and blocks a key for a delay
that doubles with each block in a row (a ``Penalty``). ``blocked_for`` reads a block without
locking, ``blocked`` lists them and ``lift`` ends one: that is what ``openesp limits`` shows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from openesp.lib.models import ConcurrencySlot, RateLimitBucket


@dataclass(frozen=True)
class Limits:
    per_second: float | None = None
    window_count: int | None = None
    window_seconds: float | None = None
    connections: int | None = None  # open connections of all workers together

    @property
    def unlimited(self) -> bool:
        return not self.per_second and not (self.window_count and self.window_seconds)


@dataclass(frozen=True)
class Grant:
    granted: int
    retry_after: float  # seconds until more may be granted; 0 when all were granted


def _bucket(key: str) -> RateLimitBucket:
    try:
        with transaction.atomic():
            return RateLimitBucket.objects.select_for_update().get_or_create(key=key)[0]
    except IntegrityError:  # another worker created it at the same moment
        return RateLimitBucket.objects.select_for_update().get(key=key)


def acquire(key: str, wanted: int, limits: Limits, *, now: float | None = None, reason: str = "") -> Grant:
    """Grant up to ``wanted`` now. With a ``reason``, a refusal also marks the key blocked until
    more may be granted, so that the operator sees it (``blocked``) and callers may check it
    without spending anything (``blocked_for``)."""
    if limits.unlimited or wanted <= 0:
        return Grant(max(wanted, 0), 0.0)
    now = time.time() if now is None else now
    with transaction.atomic():
        bucket = _bucket(key)
        granted = wanted
        waits: list[float] = []

        if limits.per_second:
            rate = limits.per_second
            burst = max(rate, 1.0)
            tokens = min(burst, bucket.tokens + (now - bucket.refilled_at) * rate) if bucket.refilled_at else burst
            allowed = math.floor(tokens)
            granted = min(granted, allowed)
            bucket.tokens = tokens - granted
            bucket.refilled_at = now
            if granted < wanted:
                waits.append(max(0.0, 1 - bucket.tokens) / rate)  # until the next whole token

        if limits.window_count and limits.window_seconds:
            period = limits.window_seconds
            start = math.floor(now / period) * period
            if bucket.window_start != start:
                # Moving on: the window we were counting becomes "previous" if it is adjacent.
                bucket.previous_count = bucket.window_count if bucket.window_start == start - period else 0
                bucket.window_count = 0
                bucket.window_start = start
            weight = 1 - (now - start) / period
            used = bucket.previous_count * weight + bucket.window_count
            room = max(0, math.floor(limits.window_count - used))
            if room < granted and limits.per_second:
                bucket.tokens += granted - room  # give back tokens the window does not let us use
            granted = min(granted, room)
            bucket.window_count += granted
            if granted < wanted:
                until_next_window = start + period - now
                # The weighted previous window frees one message every period/previous_count.
                frees_one = period / bucket.previous_count if bucket.previous_count else until_next_window
                waits.append(max(0.05, min(frees_one, until_next_window)))

        retry_after = 0.0 if granted == wanted else max(0.01, max(waits, default=0.05))
        if retry_after and reason:
            bucket.blocked_until = now + retry_after
            bucket.reason = reason[:300]
        bucket.save()
    return Grant(granted, retry_after)


@dataclass(frozen=True)
class Penalty:
    """At most ``failures`` failures within ``window`` seconds; then the key is blocked for
    ``first_block`` seconds, and each further failure once a block has run out (while the window
    still holds that many) blocks it twice as long, up to ``longest_block``. The count of blocks
    is forgotten after ``forget_after`` seconds without a failure."""

    failures: int
    window: float
    first_block: float
    longest_block: float
    forget_after: float = 86400.0


def record_failure(key: str, penalty: Penalty, *, reason: str, now: float | None = None) -> float:
    """Count one failure of ``key``; the block it imposes in seconds (0: none yet)."""
    now = time.time() if now is None else now
    with transaction.atomic():
        bucket = _bucket(key)
        if bucket.refilled_at and now - bucket.refilled_at > penalty.forget_after:
            bucket.strikes = 0
        bucket.refilled_at = now  # the time of the last failure
        period = penalty.window
        start = math.floor(now / period) * period
        if bucket.window_start != start:
            bucket.previous_count = bucket.window_count if bucket.window_start == start - period else 0
            bucket.window_count = 0
            bucket.window_start = start
        bucket.window_count += 1
        used = bucket.previous_count * (1 - (now - start) / period) + bucket.window_count
        block = 0.0
        if used >= penalty.failures - 1e-9:
            block = min(penalty.longest_block, penalty.first_block * 2 ** min(bucket.strikes, 32))
            bucket.strikes += 1
            bucket.blocked_until = now + block
            bucket.reason = reason[:300]
        bucket.save()
    return block


def blocked_for(key: str, *, now: float | None = None) -> float:
    """Seconds until ``key`` is no longer blocked; 0 when it is not. Reads without a lock: a
    request that races a block being set is let through once, which a limit can afford."""
    now = time.time() if now is None else now
    # Every API call asks this: plain SQL, not an ORM query compiled anew each time (the key is
    # unique; the table and column names are the model's own).
    meta = RateLimitBucket._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(str(meta.get_field('blocked_until').column))} FROM {quote(meta.db_table)} "  # noqa: S608
            f"WHERE {quote(str(meta.get_field('key').column))} = %s",
            [key],
        )
        row = cursor.fetchone()
    until = row[0] if row is not None else None
    return max(0.0, (until or 0.0) - now)


@dataclass(frozen=True)
class Block:
    key: str
    reason: str
    seconds_left: float
    strikes: int


def blocked(*, prefix: str = "", now: float | None = None) -> list[Block]:
    """Every key blocked now (optionally only those starting with ``prefix``), longest first."""
    now = time.time() if now is None else now
    rows = RateLimitBucket.objects.filter(blocked_until__gt=now, key__startswith=prefix).order_by("-blocked_until")
    return [Block(row.key, row.reason, row.blocked_until - now, row.strikes) for row in rows]


def lift(key: str) -> bool:
    """Forget everything about ``key``: its block, its failures, its tokens. True if it existed."""
    deleted, _ = RateLimitBucket.objects.filter(key=key).delete()
    return deleted > 0


def prune(prefixes: tuple[str, ...], *, idle: float = 2 * 86400.0, now: float | None = None) -> int:
    """Delete the rows of keys under ``prefixes`` neither blocked nor used for ``idle`` seconds
    (longer than any window of theirs): what they held has run out, so forgetting them changes no
    decision. The abuse limits make keys from what callers send; this keeps their rows bounded.
    Delivery's keys are not named here: their windows may be a month long."""
    now = time.time() if now is None else now
    old = now - idle
    deleted = 0
    for prefix in prefixes:
        stale = RateLimitBucket.objects.filter(
            key__startswith=prefix, blocked_until__lt=now, refilled_at__lt=old, window_start__lt=old
        )
        deleted += stale.delete()[0]
    return deleted


def acquire_slots(key: str, holder: str, wanted: int, maximum: int, *, ttl: float, now: float | None = None) -> int:
    """Hold up to ``wanted`` of the ``maximum`` connection slots of ``key``; returns how many
    ``holder`` now holds. Slots already held by ``holder`` are renewed and count first.

    A holder that gets none is recorded as waiting; while anybody waits, every holder keeps at
    most its fair share (``maximum`` divided among holders and waiters) and gives the rest back
    at its next call, so a second worker is not starved by the first one's connections.
    """
    now = time.time() if now is None else now
    with transaction.atomic():
        # Lock the rate-limit row of the key as a mutex for its slots.
        _bucket(f"slots:{key}")
        ConcurrencySlot.objects.filter(key=key, expires_at__lt=now).delete()
        rows = list(ConcurrencySlot.objects.filter(key=key).values_list("id", "holder", "waiting"))
        mine = [pk for pk, who, waiting in rows if who == holder and not waiting]
        others = sum(1 for _pk, who, waiting in rows if who != holder and not waiting)
        waiters = {who for _pk, who, waiting in rows if waiting and who != holder}
        limit = wanted
        if waiters:
            contenders = len(waiters | {who for _pk, who, waiting in rows if not waiting} | {holder})
            limit = min(wanted, max(1, maximum // contenders))
        held = len(mine)
        if held > limit:
            ConcurrencySlot.objects.filter(id__in=mine[: held - limit]).delete()
            held = limit
        ConcurrencySlot.objects.filter(key=key, holder=holder).update(expires_at=now + ttl)
        extra = max(0, min(limit - held, maximum - others - held))
        ConcurrencySlot.objects.bulk_create(
            [ConcurrencySlot(key=key, holder=holder, expires_at=now + ttl) for _ in range(extra)]
        )
        waiting = ConcurrencySlot.objects.filter(key=key, holder=holder, waiting=True)
        if held + extra == 0 and wanted > 0:
            if not waiting.exists():
                ConcurrencySlot.objects.create(key=key, holder=holder, expires_at=now + ttl, waiting=True)
        else:
            waiting.delete()
    return held + extra


def release_slots(key: str, holder: str) -> None:
    ConcurrencySlot.objects.filter(key=key, holder=holder).delete()


def release_holders(holders: list[str]) -> None:
    """Free every connection slot of these holders (workers known to be dead)."""
    ConcurrencySlot.objects.filter(holder__in=holders).delete()


def renew_holder(holder: str, ttl: float, *, now: float | None = None) -> None:
    """Extend every connection slot ``holder`` holds by ``ttl`` seconds from now (its heartbeat)."""
    now = time.time() if now is None else now
    ConcurrencySlot.objects.filter(holder=holder).update(expires_at=now + ttl)

"""Shared state of the rate limits (``openesp.lib.ratelimit``), held in the database so that a
limit holds across every worker process.

The tables keep the names they had when these models lived in ``openesp.delivery``
(``delivery_ratelimitbucket``, ``delivery_concurrencyslot``): moving the code moved no data.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class RateLimitBucket(models.Model):
    """Shared state of one rate limit.

    A token bucket for "N per second" and a two-window sliding counter for "N per period",
    plus the block an abuse limit imposes; see ``openesp/lib/ratelimit.py``.
    """

    key = models.CharField(max_length=255, unique=True)
    tokens = models.FloatField(default=0)
    refilled_at = models.FloatField(default=0)  # epoch seconds
    window_start = models.FloatField(default=0)
    window_count = models.PositiveIntegerField(default=0)
    previous_count = models.PositiveIntegerField(default=0)
    # The abuse limits (log-in, mail requests, API keys) refuse a key until ``blocked_until``
    # and say why in ``reason``, so that ``openesp limits`` can show and lift what is blocked;
    # ``strikes`` counts the blocks in a row, each one longer than the last.
    blocked_until = models.FloatField(default=0)  # epoch seconds; 0: never blocked
    reason = models.CharField(max_length=300, blank=True, default="")
    strikes = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "delivery_ratelimitbucket"

    def __str__(self) -> str:
        return self.key


class ConcurrencySlot(models.Model):
    """One open connection to a provider, held by a worker until ``expires_at``.

    Counting live slots per key bounds the connections of all workers together; a worker that
    dies leaves slots that simply expire.
    """

    key = models.CharField(max_length=100)
    holder = models.CharField(max_length=64)
    expires_at = models.FloatField()  # epoch seconds
    # Not a connection: a worker that found every slot taken says it is waiting, so that the
    # holders keep only their fair share at their next batch (lib.ratelimit.acquire_slots).
    waiting = models.BooleanField(default=False)

    class Meta:
        db_table = "delivery_concurrencyslot"
        indexes: ClassVar = [models.Index(fields=["key", "expires_at"], name="delivery_co_key_697679_idx")]

    def __str__(self) -> str:
        return f"{self.key} held by {self.holder}"

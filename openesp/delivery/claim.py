"""Claim: take a batch of due messages under this worker's lease and load what sending needs.

The claiming statement itself (and the lease rules) live in ``openesp.delivery.queue``.
"""

from __future__ import annotations

from datetime import timedelta

from openesp.delivery.queue import claim
from openesp.messaging.models import Message


def claim_batch(worker: str, *, limit: int, lease: timedelta) -> list[Message]:
    """Up to ``limit`` due messages, now leased to ``worker``, oldest first ([] when none is due)."""
    ids = claim(worker, limit=limit, lease=lease)
    if not ids:
        return []
    return load(ids, worker)


def load(ids: list[int], worker: str) -> list[Message]:
    return list(
        Message.objects.filter(id__in=ids, lease_owner=worker)
        .select_related("user", "organization", "workspace")
        .prefetch_related("attachments")
        .order_by("id")
    )

"""Working off the outbox: claim due deliveries, POST them, record each attempt.

Called by the delivery worker between claims (``Worker._run_due``), so every worker process
delivers webhooks and any number may run at once: a row is claimed by a conditional UPDATE of
its lease. Order per message: a row is due only when no earlier row of the same message and
endpoint is still pending, so event N+1 of a message waits until N was delivered (or given up
after ``OPENESP_WEBHOOK_MAX_ATTEMPTS``). Retries back off exponentially from
``OPENESP_WEBHOOK_RETRY_FIRST_SECONDS`` to ``OPENESP_WEBHOOK_RETRY_MAX_SECONDS``.

The HTTP requests of one run go out side by side in a few threads, each bounded by
``OPENESP_WEBHOOK_TIMEOUT``: a slow endpoint delays the worker's next claim by at most that.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from openesp.hooksout.http import Attempt, post
from openesp.hooksout.models import DeliveryStatus, WebhookDelivery
from openesp.hooksout.signing import headers
from openesp.lib import secretbox

log = logging.getLogger("openesp.webhooks")
BATCH = 50
THREADS = 8


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    first = settings.OPENESP_WEBHOOK_RETRY_FIRST_SECONDS
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), settings.OPENESP_WEBHOOK_RETRY_MAX_SECONDS))


def _due(now: datetime) -> list[int]:
    earlier = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"), message_id=OuterRef("message_id"), status=DeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )  # fmt: skip
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return list(
        WebhookDelivery.objects.filter(free, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .exclude(Exists(earlier))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:BATCH]
    )


def _claim(ids: list[int], now: datetime) -> list[WebhookDelivery]:
    lease = now + timedelta(seconds=settings.OPENESP_WEBHOOK_TIMEOUT * 3 + 30)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    with transaction.atomic():  # one commit for the round's claims, not one per row
        won = [
            pk
            for pk in ids
            if WebhookDelivery.objects.filter(free, pk=pk, status=DeliveryStatus.PENDING).update(lease_until=lease)
        ]
    return list(WebhookDelivery.objects.filter(pk__in=won).select_related("endpoint").order_by("id"))


def attempt(delivery: WebhookDelivery) -> Attempt:
    """POST one delivery, signed for this attempt (the timestamp is the attempt's own)."""
    try:
        secret = secretbox.decrypt(delivery.endpoint.secret_encrypted)
    except secretbox.SecretUnreadable:
        return Attempt(False, None, "the endpoint's secret cannot be decrypted (encryption keys changed)")
    signed = headers(secret, delivery.webhook_id, int(time.time()), delivery.body)
    return post(delivery.endpoint.url, delivery.body, signed)


def record(delivery: WebhookDelivery, result: Attempt, now: datetime, *, retry: bool = True) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.lease_until = None
    if result.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
    elif not retry or delivery.attempts >= settings.OPENESP_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts", "last_attempt_at", "last_status_code", "last_error", "lease_until", "status",
            "delivered_at", "next_attempt_at",
        ]
    )  # fmt: skip


def deliver_due(now: datetime | None = None) -> int:
    """One round: claim up to ``BATCH`` due deliveries, send them, record the attempts; returns
    how many were attempted. ``now``: the clock to judge due rows and back off by (tests)."""
    now = now or timezone.now()
    claimed = _claim(_due(now), now)
    if not claimed:
        return 0
    with ThreadPoolExecutor(min(THREADS, len(claimed)), thread_name_prefix="openesp-webhook") as pool:
        results = list(pool.map(attempt, claimed))
    with transaction.atomic():  # one commit for the round's outcomes
        for delivery, result in zip(claimed, results, strict=True):
            record(delivery, result, now)
    for delivery, result in zip(claimed, results, strict=True):
        if not result.ok:
            log.info("webhook %s to endpoint %s failed: %s", delivery.webhook_id, delivery.endpoint_id, result.error)
    return len(claimed)

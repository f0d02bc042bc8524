"""SendGrid's batches and scheduled sends: pausing, cancelling and resuming a batch's mail.

A batch is paused by holding its waiting messages as a paused campaign's are (``not_before``
moved to ``campaigns.HELD``, which no claim reaches), cancelled by taking them off the queue
(``campaigns.cancel_queued``: a ``cancelled`` event each), and resumed by giving each held
message back the time it was scheduled for. Messages a worker has claimed already go out, as
SendGrid's do once they left its queue. Each change locks the batch's row first, so a send
naming the batch at the same moment (``accept.queue``) either comes before (and is held or
cancelled here) or after (and applies the new state itself).

A cancelled batch stays cancelled for its existing messages when it is resumed: they were taken
off the queue. Later sends naming it go out again.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from openesp.campaigns.campaigns import HELD
from openesp.compat.accept import hold_or_cancel, owned_batches
from openesp.compat.auth import Sender
from openesp.compat.models import BatchStatus, CompatMessage, SendBatch
from openesp.messaging.models import DUE_STATUSES, Message

NOT_FOUND = "batch id not found"


def create_batch(sender: Sender) -> SendBatch:
    # SendGrid's ids are opaque strings; 32 URL-safe characters make one unguessable.
    return SendBatch.objects.create(batch_id=secrets.token_urlsafe(24), user=sender.user, workspace=sender.workspace)


def access_batch(sender: Sender, batch_id: str) -> SendBatch:
    """The owner's batch with this id; Http404 alike for a missing one and another owner's."""
    batch = owned_batches(sender).filter(batch_id=batch_id).first() if len(batch_id) <= 64 else None
    if batch is None:
        raise Http404(NOT_FOUND)
    return batch


def scheduled(sender: Sender) -> QuerySet[SendBatch]:
    """The owner's batches that are paused or cancelled, oldest first."""
    return owned_batches(sender).exclude(status=BatchStatus.NONE).order_by("id")


def _messages(batch: SendBatch) -> QuerySet[Message]:
    return Message.objects.filter(pk__in=CompatMessage.objects.filter(send__batch=batch).values("message_id"))


def set_status(sender: Sender, batch_id: str, status: str) -> SendBatch:
    """Pause or cancel the batch's waiting messages (``status`` ``pause`` or ``cancel``)."""
    assert status in (BatchStatus.PAUSE, BatchStatus.CANCEL), status
    now = timezone.now()
    with transaction.atomic():
        batch = access_batch(sender, batch_id)
        batch = SendBatch.objects.select_for_update().get(pk=batch.pk)
        if status == BatchStatus.CANCEL and batch.status == BatchStatus.PAUSE:
            _release(batch)  # held at HELD; cancelled below whatever their time
        batch.status, batch.updated_at = status, now
        batch.save(update_fields=["status", "updated_at"])
        hold_or_cancel(batch, _messages(batch), now)
    return batch


def resume(sender: Sender, batch_id: str) -> SendBatch:
    """Lift the pause or cancellation: held messages go out at their own time (now if past)."""
    now = timezone.now()
    with transaction.atomic():
        batch = access_batch(sender, batch_id)
        batch = SendBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == BatchStatus.PAUSE:
            _release(batch)
        batch.status, batch.updated_at = BatchStatus.NONE, now
        batch.save(update_fields=["status", "updated_at"])
    return batch


def _release(batch: SendBatch) -> None:
    """Give the batch's held messages their scheduled time back (the worker takes the past ones
    at once). One UPDATE per held message: each has its own time."""
    now = timezone.now()
    held = CompatMessage.objects.filter(
        send__batch=batch, message__status__in=DUE_STATUSES, message__not_before=HELD
    ).values_list("message_id", "scheduled_for")
    for message_id, scheduled_for in held:
        Message.objects.filter(pk=message_id, not_before=HELD).update(
            not_before=max(scheduled_for, now), updated_at=now
        )

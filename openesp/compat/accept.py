"""The accept path the compatible APIs share with ``POST /api/v1/messages``.

A compatible request is translated into the native body (``parse_submission``'s input), then
checked, authorised (``check_sender``) and queued (``queue_submissions``) as the native API does
it: one Message per recipient, in one transaction. What the native body has no field for — the
SendGrid batch a send belongs to, tracking and ASM settings kept for later work — is written in
the same transaction (``compat.models``), and a paused or cancelled batch holds or cancels the
new messages there too, so no worker can claim one in between. The caller answers only after
that transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from openesp.campaigns.campaigns import HELD, cancel_queued
from openesp.compat.auth import Sender
from openesp.compat.models import BatchStatus, CompatMessage, CompatSend, SendBatch
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import DUE_STATUSES, Message
from openesp.messaging.senders import SenderNotAllowed, check_sender
from openesp.messaging.submit import Queued, Submission, parse_submission, queue_submissions

BATCH_CANCELLED = "its SendGrid batch was cancelled"


@dataclass
class Item:
    """One submission translated from a compatible API, with what openesp keeps beside it."""

    data: dict[str, Any]  # the native body, as parse_submission reads it
    api: str
    batch_id: str = ""
    kept: dict[str, Any] = field(default_factory=dict)  # settings stored, not acted on (yet)


class SenderRefused(Exception):
    """The key may not send from this From address (403 with the reason)."""


class Senders:
    """``check_sender`` once per From address of a request (as ``messaging.batch`` does)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.seen: dict[str, str | None] = {}

    def refusal(self, address: str) -> str | None:
        if address.lower() not in self.seen:
            workspace = self.sender.workspace
            try:
                check_sender(self.sender.user, workspace.organization if workspace else None, workspace, address)
                self.seen[address.lower()] = None
            except SenderNotAllowed as exc:
                self.seen[address.lower()] = str(exc)
        return self.seen[address.lower()]


def check(senders: Senders, item: Item) -> Submission:
    """The item's checked submission; InvalidInput naming native fields, or SenderRefused."""
    submission = parse_submission(item.data)
    reason = senders.refusal(submission.from_.email)
    if reason is not None:
        raise SenderRefused(reason)
    return submission


def owned_batches(sender: Sender) -> QuerySet[SendBatch]:
    """The batches of the sender's owner: its key's workspace, or the user's own mail."""
    if sender.workspace is not None:
        return SendBatch.objects.filter(workspace=sender.workspace)
    return SendBatch.objects.filter(user=sender.user, workspace__isnull=True)


def batches_named(sender: Sender, items: list[Item]) -> dict[str, SendBatch]:
    """The batches the items name, locked until the transaction ends (a pause or cancel running
    now waits, then finds these messages; on SQLite, IMMEDIATE transactions serialize them);
    InvalidInput naming ``batch_id`` for an id that is not the owner's batch."""
    wanted = {item.batch_id for item in items if item.batch_id}
    if not wanted:
        return {}
    found = {b.batch_id: b for b in owned_batches(sender).select_for_update().filter(batch_id__in=wanted)}
    if wanted - set(found):
        raise InvalidInput.one("batch_id", "invalid batch id")
    return found


def queue(
    sender: Sender, accepted: list[tuple[Item, Submission]], batches: dict[str, SendBatch]
) -> list[list[Message]]:
    """Queue the accepted submissions with their links; call inside the request's transaction."""
    assert transaction.get_connection().in_atomic_block
    workspace = sender.workspace
    organization = workspace.organization if workspace else None
    written = queue_submissions(sender.user, [Queued(s, organization, workspace) for _item, s in accepted])
    now = timezone.now()
    sends: list[tuple[CompatSend, list[Message]]] = []
    for (item, _submission), messages in zip(accepted, written, strict=True):
        batch = batches.get(item.batch_id) if item.batch_id else None
        if batch is not None or item.kept:
            send = CompatSend(api=item.api, user=sender.user, workspace=workspace, batch=batch, settings=item.kept)
            sends.append((send, messages))
    if sends:
        CompatSend.objects.bulk_create([send for send, _messages in sends])
        CompatMessage.objects.bulk_create(
            [
                CompatMessage(send=send, message=m, scheduled_for=m.not_before)
                for send, messages in sends
                for m in messages
            ]
        )
    for batch in batches.values():
        ids = [m.pk for send, messages in sends if send.batch_id == batch.pk for m in messages]
        hold_or_cancel(batch, Message.objects.filter(pk__in=ids), now)
    return written


def hold_or_cancel(batch: SendBatch, messages: QuerySet[Message], now: datetime) -> None:
    """Apply the batch's state to its waiting ``messages`` (a queryset)."""
    if batch.status == BatchStatus.PAUSE:
        messages.filter(status__in=DUE_STATUSES).update(not_before=HELD, updated_at=now)
    elif batch.status == BatchStatus.CANCEL:
        cancel_queued(messages, now, BATCH_CANCELLED)

"""Claim: take a batch of due messages under this worker's lease and load what sending needs.

The claiming statement itself (and the lease rules) live in ``openesp.delivery.queue``.
"""

from __future__ import annotations

from datetime import timedelta

from openesp.delivery.queue import claim
from openesp.lib.fastread import by_ids, load_related
from openesp.messaging.models import Attachment, Message


def claim_batch(worker: str, *, limit: int, lease: timedelta) -> list[Message]:
    """Up to ``limit`` due messages, now leased to ``worker``, oldest first ([] when none is due)."""
    ids = claim(worker, limit=limit, lease=lease)
    if not ids:
        return []
    return load(ids, worker)


def load(ids: list[int], worker: str) -> list[Message]:
    """The claimed messages with what sending reads of them: their sender, organization,
    workspace, shared To and Cc headers and body (one object each for the whole batch, as a
    batch is mostly one sender's: joined per row, they were three model instances more per
    message, and a 1,000-address To header would come once per row) and their attachments.

    The attachments are looked up through the link table once and set on each message for
    ``attachments_of``: Django's own prefetch built a related manager and a filter per message
    even when none has an attachment, the usual case — with the joins, two thirds of this
    step's time (``bench.delivery``, docs/benchmarks.md). The messages and their related rows
    are read by ``lib.fastread`` (SQL planned once, the ids as one parameter): Django's
    ``prefetch_related`` and its 500-value ``IN`` were half of the rest.
    """
    messages = by_ids(Message, ids, where="t.lease_owner = %s", params=[worker])
    load_related(messages, "user", "organization", "workspace", "address_headers", "body")
    links = list(
        Message.attachments.through.objects.filter(message_id__in=ids).values_list("message_id", "attachment_id")
    )
    stored = Attachment.objects.in_bulk({attachment for _message, attachment in links}) if links else {}
    files: dict[int, list[Attachment]] = {}
    for message_id, attachment_id in sorted(links, key=lambda link: link[1]):  # in the order they were added
        files.setdefault(message_id, []).append(stored[attachment_id])
    for message in messages:
        message.__dict__[_ATTACHMENTS] = files.get(message.pk, [])
    return messages


_ATTACHMENTS = "_openesp_attachments"  # where ``load`` leaves a message's attachments


def attachments_of(message: Message) -> list[Attachment]:
    """The message's attachments: those ``load`` found, or read now for a message it did not load."""
    loaded: list[Attachment] | None = message.__dict__.get(_ATTACHMENTS)
    return loaded if loaded is not None else list(message.attachments.order_by("id"))

"""Accepting a submission at most once per idempotency key.

A client that retries a request (a timeout, a lost answer) with the same ``Idempotency-Key``
gets the first answer back and nothing new is queued; the same key with a different request is
refused. The answer is stored in the transaction that queues the messages, so a stored answer
always names messages on the queue, and a failure leaves neither behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError

from openesp.accounts.models import User, Workspace
from openesp.lib.errors import InvalidInput
from openesp.messaging.groupcommit import committed, committed_together
from openesp.messaging.models import IdempotencyRecord
from openesp.messaging.senders import check_sender
from openesp.messaging.submit import Queued, parse_submission, queue_submissions_of

ACCEPTED = 202


class IdempotencyConflict(ValueError):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class Answer:
    """What the caller is told: the first answer to a key, or this request's own."""

    status_code: int
    body: dict[str, Any]


def request_fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def remember(owner: str, key: str, fingerprint: str, status_code: int, response: dict[str, Any]) -> None:
    """Store the first answer for an idempotency key (inside the submit transaction)."""
    IdempotencyRecord.objects.create(
        owner=owner, key=key, request_hash=fingerprint, status_code=status_code, response=response
    )


def recall(owner: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if record is not None and record.request_hash != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    return record


def first_answer(owner: str, key: str, fingerprint: str) -> Answer | None:
    """The answer stored for this key, None for a new key; InvalidInput naming
    ``Idempotency-Key`` when the key was used with a different request."""
    try:
        record = recall(owner, key, fingerprint)
    except IdempotencyConflict as exc:
        raise InvalidInput.one("Idempotency-Key", str(exc)) from None
    return Answer(record.status_code, record.response) if record is not None else None


def submit_once(
    actor: User, data: dict[str, Any], *, workspace: Workspace | None, owner: str, key: str | None
) -> Answer:
    """Parse, authorise and queue ``data`` (as ``parse_submission`` reads it) for ``actor``.

    ``owner`` names whose keys these are (an API key: keys of different callers never meet);
    with ``key`` None every call queues. Raises ``InvalidInput`` (also for a key reused with a
    different request, naming ``Idempotency-Key``) and ``SenderNotAllowed``; neither is
    remembered, so a corrected retry with the same key is accepted. Returns only after the
    transaction has committed.
    """
    # Without a key nothing is compared: the fingerprint (the whole body, serialised) is skipped.
    fingerprint = (
        request_fingerprint({**data, "workspace": workspace.pk if workspace else None}) if key is not None else ""
    )
    if key is not None:
        first = first_answer(owner, key, fingerprint)
        if first is not None:
            return first
    submission = parse_submission(data)
    organization = workspace.organization if workspace else None
    # The sender check reads: here on the request's thread, not in the group's transaction.
    check_sender(actor, organization, workspace, submission.from_.email)

    single = _Single(actor, Queued(submission, organization, workspace), owner, key, fingerprint)
    # Merged with the other single sends of the committer's group: one insert per table and one
    # pass of the event listeners for all of them (groupcommit.committed_together).
    return _settled(owner, key, fingerprint, lambda: committed_together(_queue_singles, single))


@dataclass(frozen=True)
class _Single:
    """One request's checked submission, waiting to be queued with others."""

    actor: User
    queued: Queued
    owner: str
    key: str | None
    fingerprint: str


def _queue_singles(singles: list[_Single]) -> list[dict[str, Any]]:
    """Queue each request's messages (one bulk insert per table for all), remember each key;
    each request's answer body, in order."""
    written = queue_submissions_of([(single.actor, single.queued) for single in singles])
    bodies = []
    for single, messages in zip(singles, written, strict=True):
        body = {"ids": [str(m.public_id) for m in messages]}
        if single.key is not None:
            remember(single.owner, single.key, single.fingerprint, ACCEPTED, body)
        bodies.append(body)
    return bodies


def commit_once(
    owner: str, key: str | None, fingerprint: str, write: Callable[[], tuple[dict[str, Any], bool]]
) -> Answer:
    """Run ``write`` — which queues and returns the answer's body and whether to remember it —
    in one transaction with the key's record, and answer 202 with that body once it commits.
    Two requests racing with one key: the second's transaction is rolled back whole, and the
    first answer is its answer."""

    def write_and_remember() -> dict[str, Any]:
        body, keep = write()
        if key is not None and keep:
            remember(owner, key, fingerprint, ACCEPTED, body)
        return body

    # Grouped with concurrent requests' writes: one transaction, one commit (groupcommit).
    return _settled(owner, key, fingerprint, lambda: committed(write_and_remember))


def _settled(owner: str, key: str | None, fingerprint: str, commit: Callable[[], dict[str, Any]]) -> Answer:
    """202 with the body ``commit()`` returns once committed; when a concurrent request committed
    the same key first (the unique record refused ours), that request's answer."""
    try:
        body = commit()
    except IntegrityError:
        # The same key committed by a concurrent request between our look and our write.
        first = first_answer(owner, key, fingerprint) if key is not None else None
        if first is None:
            raise
        return first
    return Answer(ACCEPTED, body)

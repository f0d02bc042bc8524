"""Accepting many individual submissions in one request (``POST /api/v1/messages/batch``).

Each submission goes through the single send's own steps (``parse_submission``,
``check_sender``) on its own: a refused one gets its reasons in its entry of the answer and
does not stop the others. The accepted ones are queued together in one transaction
(``submit.queue_submissions``: one bulk insert per table for the whole request) with the
idempotency record of the whole request, so the caller answers only after every accepted
message is committed, and a repeat of the request creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openesp.accounts.models import User, Workspace
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.idempotency import Answer, commit_once, first_answer, request_fingerprint
from openesp.messaging.senders import SenderNotAllowed, check_sender
from openesp.messaging.submit import MAX_RECIPIENTS, Queued, parse_submission, queue_submissions

MAX_BATCH = 500
# One request is one transaction: 500 messages of 1,000 recipients each would be half a million
# rows held in memory and locked at once. Ten times what one message may have is room for any
# batch of individual messages and bounds the rest; what is over goes in another request.
MAX_BATCH_RECIPIENTS = 10 * MAX_RECIPIENTS
# The codes of the API's error shape (api.errors), which a refused entry has too: its own
# fields, or a sender the caller may not use.
INVALID = "invalid"
FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class BatchItem:
    """One message of a batch: its body as ``parse_submission`` reads it and where it is sent.

    ``problems`` holds what the caller's own checks refused already (the API's schema), with
    fields relative to the message; such an item is answered with them and not parsed again.
    """

    data: dict[str, Any]
    workspace: Workspace | None = None
    problems: tuple[FieldProblem, ...] = ()


def refusal(position: int, code: str, problems: list[FieldProblem] | tuple[FieldProblem, ...]) -> dict[str, Any]:
    """An entry in the API's error shape, each field prefixed by the message's position."""
    named = [FieldProblem(f"messages[{position}].{p.field}" if p.field else f"messages[{position}]", p.reason)
             for p in problems]  # fmt: skip
    return {
        "error": code,
        "detail": "; ".join(f"{p.field}: {p.reason}" for p in named),
        "errors": [{"field": p.field, "reason": p.reason} for p in named],
    }


class _Senders:
    """``check_sender`` once per From address and workspace of a request, not once per message:
    a batch of 500 from one address asks the database once."""

    def __init__(self, actor: User) -> None:
        self.actor = actor
        self.seen: dict[tuple[str, int | None], str | None] = {}

    def refusal(self, workspace: Workspace | None, sender: str) -> str | None:
        """None when the actor may send from ``sender`` there, else the reason."""
        key = (sender.lower(), workspace.pk if workspace else None)
        if key not in self.seen:
            try:
                organization = workspace.organization if workspace else None
                check_sender(self.actor, organization, workspace, sender)
                self.seen[key] = None
            except SenderNotAllowed as exc:
                self.seen[key] = str(exc)
        return self.seen[key]


def submit_batch_once(actor: User, items: list[BatchItem], *, owner: str, key: str | None) -> Answer:
    """Parse, authorise and queue each item for ``actor``; the answer has one entry per item,
    in order: ``{"ids": [...]}`` for an accepted one, the API's error shape for a refused one.

    ``owner`` and ``key`` as for ``idempotency.submit_once``. The answer is remembered when it
    accepted something; one that accepted nothing created nothing, and a corrected retry with
    the same key is then accepted. Raises ``InvalidInput`` only for a key reused with a
    different request. Returns only after the transaction has committed.
    """
    # Without a key nothing is compared: the fingerprint (the whole batch, serialised) is skipped.
    fingerprint = (
        request_fingerprint(
            {"batch": [{**item.data, "workspace": item.workspace.pk if item.workspace else None} for item in items]}
        )
        if key is not None
        else ""
    )
    if key is not None:
        first = first_answer(owner, key, fingerprint)
        if first is not None:
            return first
    senders = _Senders(actor)
    entries: list[dict[str, Any]] = []
    accepted: list[tuple[int, Queued]] = []
    recipients = 0  # of the accepted messages so far
    for position, item in enumerate(items):
        if item.problems:
            entries.append(refusal(position, INVALID, item.problems))
            continue
        try:
            submission = parse_submission(item.data)
        except InvalidInput as exc:
            entries.append(refusal(position, INVALID, exc.problems))
            continue
        count = len(submission.to) + len(submission.cc) + len(submission.bcc)
        if recipients + count > MAX_BATCH_RECIPIENTS:
            over = f"the batch would hold more than {MAX_BATCH_RECIPIENTS} recipients in all; send it in another one"
            entries.append(refusal(position, INVALID, [FieldProblem("to", over)]))
            continue
        reason = senders.refusal(item.workspace, submission.from_.email)
        if reason is not None:
            entries.append(refusal(position, FORBIDDEN, [FieldProblem("from", reason)]))
            continue
        organization = item.workspace.organization if item.workspace else None
        accepted.append((position, Queued(submission, organization, item.workspace)))
        recipients += count
        entries.append({})  # filled in with the ids once they exist

    def write() -> tuple[dict[str, Any], bool]:
        written = queue_submissions(actor, [queued for _position, queued in accepted])
        for (position, _queued), messages in zip(accepted, written, strict=True):
            entries[position] = {"ids": [str(m.public_id) for m in messages]}
        return {"messages": entries}, bool(accepted)

    return commit_once(owner, key, fingerprint, write)

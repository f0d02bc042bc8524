"""The submission server's decisions, in plain synchronous Django: who logs in, which senders
they may use, and queueing a message. The protocol (``server``) runs these in worker threads,
each keeping its database connection (the server closes one after a database error; the next
call reconnects).

Accepting is the path of ``POST /api/v1/messages``: ``check_sender`` for the From, then
``submit.queue_submissions`` (one Message per recipient and their ``queued`` events in one
transaction). The message's bytes are stored once (``RawContent``) and relayed as they came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from email_validator import EmailNotValidError

from openesp.accounts import apikeys, limits
from openesp.accounts.access import Actor, NotAllowed, access_workspace, require_editor
from openesp.accounts.models import ApiKey, Organization, Workspace
from openesp.delivery.relayed import replace_field, split_head
from openesp.lib.addresses import normalized_address
from openesp.lib.headers import format_address
from openesp.messaging.access import SEND_REFUSAL
from openesp.messaging.models import Message
from openesp.messaging.senders import SenderNotAllowed, check_sender
from openesp.messaging.submit import MAX_RECIPIENTS as MAX_RECIPIENTS
from openesp.messaging.submit import Address, Queued, Submission
from openesp.messaging.submit import queue_submissions as queue_submissions
from openesp.smtpd.instructions import BadInstructions, Instructions, read

USER = "apikey"  # the user name of SMTP AUTH, as at SendGrid; the password is the key
SCOPE = "messages.send"
MAX_SCHEDULE_AHEAD = timedelta(days=30)
MAX_SUBSTITUTED_BYTES = 100 * 1024 * 1024  # all the copies X-SMTPAPI ``sub`` makes of one message


class Refused(Exception):
    """An SMTP reply refusing the command: ``str(exc)`` is the whole reply line."""


@dataclass(frozen=True)
class Sender:
    """Who logged in: a key with the ``messages.send`` scope, and where it sends."""

    key: ApiKey
    workspace: Workspace | None
    organization: Organization | None

    @property
    def actor(self) -> Actor:
        return Actor(self.key.user, self.workspace.organization_id if self.workspace else None)


def authenticate(login: bytes, password: bytes, client: str) -> Sender:
    """The sender the credentials name; ``Refused`` with 535 (wrong), 421 (too many wrong ones
    from this address: the session ends) or 454 (a database error)."""
    if limits.api_key_blocked(client):
        raise Refused("421 4.7.0 too many failed authentications from your address; try again later")
    key = None
    if login == USER.encode():
        try:
            key = apikeys.authenticate(password.decode("utf-8"))
        except UnicodeDecodeError:
            key = None
    if key is None:
        if limits.api_key_failed(client):
            raise Refused("421 4.7.0 too many failed authentications from your address; try again later")
        raise Refused(f"535 5.7.8 authentication failed: the user is {USER!r}, the password an openesp API key")
    if SCOPE not in key.scopes:
        raise Refused(f"535 5.7.8 this API key lacks the {SCOPE!r} scope")
    workspace = key.workspace
    if workspace is not None:
        actor = Actor(key.user, workspace.organization_id)
        try:
            workspace = access_workspace(actor, workspace.pk)
            require_editor(actor, workspace, SEND_REFUSAL)
        except (Http404, NotAllowed) as exc:
            raise Refused(f"535 5.7.8 {exc}") from None
    return Sender(key, workspace, workspace.organization if workspace else None)


def check_from(sender: Sender, address: str) -> None:
    """``Refused`` (550 5.7.1, with the reason) unless the key may send from ``address``."""
    if not address:
        raise Refused("550 5.7.1 a null sender (<>) cannot submit mail")
    try:
        check_sender(sender.key.user, sender.organization, sender.workspace, address)
    except SenderNotAllowed as exc:
        raise Refused(f"550 5.7.1 {exc}") from None


def _address(email: str, name: str, what: str) -> Address:
    try:
        normalized = normalized_address(email.strip())
    except EmailNotValidError as exc:
        raise Refused(f"550 5.1.3 {what}: {email!r}: {exc}") from None
    return Address(normalized, " ".join(name.split())[:200])


def _substituted(raw: bytes, to: Address, substitutions: dict[str, str]) -> bytes:
    """One X-SMTPAPI ``to`` recipient's own copy: To names only them, their substitutions made."""
    fields, rest = split_head(raw)
    copy = b"".join(replace_field(fields, "To", format_address(to.email, to.name))) + rest
    for tag, value in substitutions.items():
        copy = copy.replace(tag.encode(), value.encode())
    return copy


def _submissions(found: Instructions, sender_address: Address, recipients: list[str], raw: bytes) -> list[Submission]:
    subject = found.subject[:998]
    common: dict[str, Any] = {
        "tags": found.tags, "metadata": found.metadata, "send_at": found.send_at, "tracking": found.tracking,
    }  # fmt: skip
    if found.to is None:
        to = [_address(r, "", "RCPT") for r in recipients]
        return [Submission(from_=sender_address, to=to, subject=subject, raw=raw, **common)]
    if len(found.to) > MAX_RECIPIENTS:
        raise Refused(f"550 5.5.3 X-SMTPAPI: at most {MAX_RECIPIENTS} addresses in to")
    to = [_address(email, name, "X-SMTPAPI to") for name, email in found.to]
    if not found.substitutions:
        # One stored copy; delivery writes each recipient's own To.
        return [Submission(from_=sender_address, to=to, subject=subject, raw=raw, raw_to_each=True, **common)]
    # Substitutions make every copy different: each is stored, so their total is bounded.
    if len(raw) * len(to) > MAX_SUBSTITUTED_BYTES:
        raise Refused(
            f"552 5.3.4 X-SMTPAPI: sub stores a copy per address; at most {MAX_SUBSTITUTED_BYTES} bytes in all"
        )
    return [
        Submission(
            from_=sender_address, to=[one], subject=subject, **common,
            raw=_substituted(raw, one, {tag: values[i] for tag, values in found.substitutions.items()}),
        )
        for i, one in enumerate(to)
    ]  # fmt: skip


@dataclass(frozen=True)
class Incoming:
    """One message as the protocol received it: who sent it, its envelope and its bytes."""

    sender: Sender
    mail_from: str
    recipients: list[str]
    raw: bytes


def prepare(incoming: Incoming) -> list[Queued]:
    """What ``incoming`` queues (one item, or one per X-SMTPAPI ``to`` address); ``Refused`` for
    a message that may not be sent. Reads the database (the sender rules), writes nothing."""
    try:
        found = read(incoming.raw)
    except BadInstructions as exc:
        raise Refused(f"550 5.6.0 {exc}") from None
    from_address = _address(found.from_email, found.from_name, "From")
    if from_address.email.lower() != incoming.mail_from.lower():
        # The envelope sender was checked at MAIL; the From header is what recipients see.
        check_from(incoming.sender, from_address.email)
    if found.send_at is not None and found.send_at - timezone.now() > MAX_SCHEDULE_AHEAD:
        raise Refused("550 5.6.0 X-SMTPAPI: send_at may be at most 30 days ahead")
    submissions = _submissions(found, from_address, incoming.recipients, incoming.raw)
    sender = incoming.sender
    return [Queued(s, sender.organization, sender.workspace) for s in submissions]


def accept_many(batch: list[Incoming]) -> list[list[Message] | Refused]:
    """Queue the messages of many sessions in one transaction (a group commit: one fsync for
    all of them); each one's committed Messages, or why it was refused. A database error
    propagates and leaves nothing of the batch behind."""
    prepared: list[list[Queued] | Refused] = []
    for incoming in batch:
        try:
            prepared.append(prepare(incoming))
        except Refused as refusal:
            prepared.append(refusal)
    # queue_submissions writes one actor's items; a batch holds the sessions of many keys.
    by_user: dict[int, list[int]] = {}
    for position, (incoming, items) in enumerate(zip(batch, prepared, strict=True)):
        if not isinstance(items, Refused):
            by_user.setdefault(incoming.sender.key.user_id, []).append(position)
    results: list[list[Message] | Refused] = [p if isinstance(p, Refused) else [] for p in prepared]
    with transaction.atomic():
        for positions in by_user.values():
            user = batch[positions[0]].sender.key.user
            items = [item for pos in positions for item in prepared[pos]]  # type: ignore[union-attr]
            queued = iter(queue_submissions(user, items))
            for pos in positions:
                results[pos] = [m for _item in prepared[pos] for m in next(queued)]  # type: ignore[union-attr]
    return results

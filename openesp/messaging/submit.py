"""Accepting transactional mail (HTTP API, CLI): validate, authorise the sender, and queue one
Message per recipient in a single transaction. The caller answers 202 only after it returns.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from email_validator import EmailNotValidError

from openesp.accounts.models import Organization, User, Workspace
from openesp.lib.addresses import normalized_address
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.lib.fastinsert import insert_all
from openesp.lib.fastmodel import like
from openesp.lib.headers import format_address
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import (
    AddressHeaders,
    Attachment,
    Category,
    Event,
    EventType,
    Message,
    MessageBody,
    RawContent,
    Status,
)
from openesp.messaging.senders import SenderNotAllowed as SenderNotAllowed
from openesp.messaging.senders import check_sender

MAX_RECIPIENTS = 1000
MAX_TAGS = 10
MAX_METADATA_BYTES = 10_000
MAX_SCHEDULE_AHEAD = timedelta(days=30)
# Categories an API caller may use. The platform's own kinds are not for callers: system
# mail passes suppression lists, and invitations of the platform carry its tokens.
CALLER_CATEGORIES = frozenset(Category.values) - {
    Category.SYSTEM,
    Category.ORG_INVITATION,
    Category.WORKSPACE_INVITATION,
}
# Headers openesp writes itself; a caller setting them would forge or break the message.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "DKIM-Signature", "Return-Path", "Received", "Sender", "Reply-To",
    )
)  # fmt: skip
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}\Z")  # printable ASCII without ':' (RFC 5322 ftext)
# The reason given for CR, LF or NUL in a header value or address: the API answers it with 400.
LINE_BREAKS = "must not contain line breaks or NUL characters"


@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""


@dataclass
class Submission:
    from_: Address
    to: list[Address]
    subject: str
    text: str = ""
    html: str = ""
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[tuple[str, str, bytes, str]] = field(default_factory=list)  # name, type, data, cid
    category: str = Category.TRANSACTIONAL
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    tracking: dict[str, bool] = field(default_factory=dict)  # "opens", "clicks": None = the default
    send_at: datetime | None = None
    sandbox: bool = False
    # A message that came in over SMTP: its bytes, relayed as they came (text, html and
    # attachments stay empty), stored once for all its recipients (``RawContent``).
    raw: bytes = b""
    # With ``raw``: each recipient's copy says To: that recipient alone (SendGrid's X-SMTPAPI
    # ``to``), written by delivery; otherwise the message keeps its own To and Cc.
    raw_to_each: bool = False


def _no_breaks(field_name: str, value: str, problems: list[FieldProblem]) -> bool:
    if "\r" in value or "\n" in value or "\x00" in value:  # a generator here cost ~1 µs a call
        problems.append(FieldProblem(field_name, LINE_BREAKS))
        return False
    return True


def _address(field_name: str, raw: Any, problems: list[FieldProblem]) -> Address | None:
    if isinstance(raw, dict):
        email, name = raw.get("email"), raw.get("name") or ""
    else:
        email, name = raw, ""
    if not isinstance(email, str) or not isinstance(name, str):
        problems.append(FieldProblem(field_name, 'must be an address or {"email", "name"}'))
        return None
    if not (_no_breaks(field_name, email, problems) and _no_breaks(field_name, name, problems)):
        return None
    try:
        normalized = normalized_address(email.strip())
    except EmailNotValidError as exc:
        problems.append(FieldProblem(field_name, f"{email!r}: {exc}"))
        return None
    if len(name) > 200:
        problems.append(FieldProblem(field_name, "a display name is longer than 200 characters"))
        return None
    return Address(normalized, " ".join(name.split()))


def _addresses(field_name: str, raw: Any, problems: list[FieldProblem], *, required: bool = False) -> list[Address]:
    if raw is None or raw == []:
        if required:
            problems.append(FieldProblem(field_name, "name at least one recipient"))
        return []
    items = raw if isinstance(raw, list) else [raw]
    found = [_address(f"{field_name}[{i}]", item, problems) for i, item in enumerate(items)]
    return [a for a in found if a is not None]


def parse_submission(data: dict[str, Any]) -> Submission:
    """A request body as the API receives it → a checked Submission, or InvalidInput."""
    problems: list[FieldProblem] = []
    sender = _address("from", data.get("from"), problems) if data.get("from") else None
    if not data.get("from"):
        problems.append(FieldProblem("from", "is required"))
    to = _addresses("to", data.get("to"), problems, required=True)
    cc = _addresses("cc", data.get("cc"), problems)
    bcc = _addresses("bcc", data.get("bcc"), problems)
    everyone = [a.email.lower() for a in (*to, *cc, *bcc)]
    if len(everyone) > MAX_RECIPIENTS:
        problems.append(FieldProblem("to", f"at most {MAX_RECIPIENTS} recipients in all (to, cc and bcc)"))
    if len(set(everyone)) != len(everyone):
        problems.append(FieldProblem("to", "each recipient may appear only once across to, cc and bcc"))
    reply_to = ""
    if data.get("reply_to"):
        reply = _address("reply_to", data["reply_to"], problems)
        reply_to = reply.email if reply else ""

    subject = data.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        problems.append(FieldProblem("subject", "is required"))
        subject = ""
    elif _no_breaks("subject", subject, problems) and len(subject) > 998:
        problems.append(FieldProblem("subject", "is longer than 998 characters"))
    text, html = data.get("text") or "", data.get("html") or ""
    if not isinstance(text, str) or not isinstance(html, str):
        problems.append(FieldProblem("text", "text and html must be strings"))
        text, html = "", ""
    elif not text and not html:
        problems.append(FieldProblem("text", "give text, html or both"))

    headers: dict[str, str] = {}
    raw_headers = data.get("headers") or {}
    if not isinstance(raw_headers, dict):
        problems.append(FieldProblem("headers", "must be an object of header names to values"))
    else:
        for name, value in raw_headers.items():
            where = f"headers.{name}"
            if not isinstance(value, str) or not _HEADER_NAME.match(str(name)):
                problems.append(FieldProblem(where, "needs a valid header name and a string value"))
            elif name.lower() in RESERVED_HEADERS:
                problems.append(FieldProblem(where, "is set by openesp; use the matching field instead"))
            elif _no_breaks(where, value, problems):
                headers[name] = value

    attachments: list[tuple[str, str, bytes, str]] = []
    total = 0
    for i, item in enumerate(data.get("attachments") or []):
        where = f"attachments[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("content"), str) or not item.get("filename"):
            problems.append(FieldProblem(where, "needs filename and base64 content"))
            continue
        filename = str(item["filename"])
        content_type = str(item.get("type") or "application/octet-stream")
        content_id = str(item.get("content_id") or "")
        if not all(_no_breaks(where, v, problems) for v in (filename, content_type, content_id)):
            continue
        try:
            payload = base64.b64decode(item["content"], validate=True)
        except (binascii.Error, ValueError):
            problems.append(FieldProblem(f"{where}.content", "is not valid base64"))
            continue
        total += len(payload)
        attachments.append((filename[:255], content_type[:127], payload, content_id[:255]))
    if total > settings.OPENESP_MAX_ATTACHMENT_BYTES:
        problems.append(
            FieldProblem("attachments", f"total {total} bytes exceeds {settings.OPENESP_MAX_ATTACHMENT_BYTES}")
        )

    category = data.get("category") or Category.TRANSACTIONAL
    if category not in CALLER_CATEGORIES:
        problems.append(FieldProblem("category", f"must be one of {', '.join(sorted(CALLER_CATEGORIES))}"))
    tags = data.get("tags") or []
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in tags)
    ):
        problems.append(FieldProblem("tags", f"at most {MAX_TAGS} strings of 1 to 64 characters"))
        tags = []
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        problems.append(FieldProblem("metadata", "must be an object of string keys to string values"))
        metadata = {}
    elif len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        problems.append(FieldProblem("metadata", f"is larger than {MAX_METADATA_BYTES} bytes"))

    tracking = data.get("tracking") or {}
    if not isinstance(tracking, dict) or not all(
        k in ("opens", "clicks") and (v is None or isinstance(v, bool)) for k, v in tracking.items()
    ):
        problems.append(FieldProblem("tracking", 'must be {"opens": true|false, "clicks": true|false}'))
        tracking = {}
    tracking = {k: v for k, v in tracking.items() if v is not None}

    send_at = data.get("send_at")
    if send_at is not None:
        if isinstance(send_at, str):
            try:
                send_at = datetime.fromisoformat(send_at)
            except ValueError:
                problems.append(FieldProblem("send_at", "must be an ISO 8601 date and time"))
                send_at = None
        if isinstance(send_at, datetime):
            if timezone.is_naive(send_at):
                problems.append(FieldProblem("send_at", "must include a time zone (e.g. Z or +01:00)"))
            elif send_at - timezone.now() > MAX_SCHEDULE_AHEAD:
                problems.append(FieldProblem("send_at", "may be at most 30 days ahead"))
    if problems:
        raise InvalidInput(problems)
    assert sender is not None
    return Submission(
        from_=sender, to=to, cc=cc, bcc=bcc, reply_to=reply_to, subject=subject, text=text, html=html,
        headers=headers, attachments=attachments, category=category, tags=tags, metadata=metadata,
        tracking=tracking, send_at=send_at if isinstance(send_at, datetime) else None,
        sandbox=bool(data.get("sandbox")),
    )  # fmt: skip


def _header_value(addresses: list[Address]) -> str:
    return ", ".join(format_address(a.email, a.name) for a in addresses)


@dataclass(frozen=True)
class Queued:
    """A checked submission and where it is sent: what ``queue_submissions`` writes."""

    submission: Submission
    organization: Organization | None = None
    workspace: Workspace | None = None


def submit(
    actor: User,
    submission: Submission,
    *,
    organization: Organization | None = None,
    workspace: Workspace | None = None,
) -> list[Message]:
    """Queue one Message per recipient (to, cc and bcc) in one transaction."""
    check_sender(actor, organization, workspace, submission.from_.email)
    (messages,) = queue_submissions(actor, [Queued(submission, organization, workspace)])
    return messages


Templates = dict[tuple[int, int | None, int | None], Message]


def _rows(
    actor: User, queued: Queued, now: datetime, templates: Templates
) -> tuple[list[Message], AddressHeaders | None, MessageBody | None]:
    """The unsaved Messages of one submission, one per recipient (to, cc, bcc in that order),
    the To and Cc headers they share when it named several people and the text and HTML they
    all share (each to be stored once).

    The first Message of a call for each sender, organization and workspace is made as usual;
    every other is copied from it with its own fields (``lib.fastmodel.like``: ``Model.__init__``
    was a tenth of a 500-message batch's time). The relations are the template's — the same
    objects — and every other field is set here, so a copy is what ``Message(...)`` would give.
    """
    submission, workspace = queued.submission, queued.workspace
    not_before = max(submission.send_at, now) if submission.send_at else now
    status = Status.SANDBOX if submission.sandbox else Status.QUEUED
    many = len(submission.to) + len(submission.cc) > 1
    # Encoded once per submission and shared by every copy: a To list of 1,000 is formatted
    # once, not 1,000 times.
    to_header = _header_value(submission.to) if many or submission.to[0].name else ""
    cc_header = _header_value(submission.cc)
    if submission.raw:
        to_header = cc_header = ""  # relayed as it came, with its own To and Cc
    each = bool(submission.raw and submission.raw_to_each)
    # Several visible recipients: every copy shows them all, so the headers are one row that
    # every copy refers to (Message.address_headers), not a copy in each message's row.
    shared = None
    if many and (to_header or cc_header):
        shared = AddressHeaders(to_header=to_header, cc_header=cc_header, created_at=now)
        to_header = cc_header = ""
    fields = {
        "category": submission.category,
        "from_email": submission.from_.email,
        "from_name": submission.from_.name,
        "cc_header": cc_header,
        "reply_to": submission.reply_to,
        "subject": submission.subject,
        "headers": dict(submission.headers),
        "metadata": submission.metadata,
        "tags": submission.tags,
        "tracking": submission.tracking,
        "status": status,
        "not_before": not_before,
        "created_at": now,
        "updated_at": now,
    }
    organization = queued.organization or (workspace.organization if workspace else None)
    key = (actor.pk, organization.pk if organization else None, workspace.pk if workspace else None)
    made = []
    for recipient in (*submission.to, *submission.cc, *submission.bcc):
        to = {
            "to_email": recipient.email,
            "to_name": recipient.name,
            "to_header": format_address(recipient.email, recipient.name) if each else to_header,
        }
        template = templates.get(key)
        if template is None:
            template = Message(organization=organization, workspace=workspace, user=actor, **fields, **to)
            templates[key] = template
            made.append(template)
        else:
            made.append(like(template, public_id=uuid.uuid4(), **fields, **to))
    if not (submission.text or submission.html):
        return made, shared, None
    return made, shared, like(_body_template(), text=submission.text, html=submission.html, created_at=now)


@functools.cache
def _body_template() -> MessageBody:
    # Bodies are copied from it (``like``): one per submission, most of them a single message's.
    return MessageBody()


def queue_submissions(actor: User, items: list[Queued]) -> list[list[Message]]:
    """Queue every item's messages in one transaction, with one bulk insert per table for all
    of them; each item's Messages, in order. The senders must have been checked (``check_sender``)."""
    return queue_submissions_of([(actor, item) for item in items])


def queue_submissions_of(entries: list[tuple[User, Queued]]) -> list[list[Message]]:
    """``queue_submissions`` for items of different senders (the API's single sends of several
    requests, merged by group commit): each (actor, item)'s Messages, in order."""
    now = timezone.now()
    items = [item for _actor, item in entries]
    templates: Templates = {}
    made = [_rows(actor, item, now, templates) for actor, item in entries]
    rows = [messages for messages, _shared, _body in made]
    shared = [(headers, messages) for messages, headers, _body in made if headers is not None]
    bodies = [(body, messages) for messages, _headers, body in made if body is not None]
    files = [
        [Attachment(filename=n, content_type=t, data=d, size=len(d), content_id=c, created_at=now)
         for n, t, d, c in item.submission.attachments]
        for item in items
    ]  # fmt: skip
    raws = [
        (RawContent(data=item.submission.raw, size=len(item.submission.raw), created_at=now), messages)
        for item, messages in zip(items, rows, strict=True)
        if item.submission.raw
    ]
    with transaction.atomic():
        _store_shared(raws, "raw_content")
        _store_shared(bodies, "body")
        _store_shared(shared, "address_headers")
        # insert_all sets the primary keys (RETURNING), which the attachment links and the
        # events need; it skips the ORM's per-value compilation (lib/fastinsert.py).
        insert_all([m for messages in rows for m in messages])
        insert_all([a for stored in files for a in stored])
        through = Message.attachments.through
        insert_all(
            [
                through(message_id=m.pk, attachment_id=a.pk)
                for messages, stored in zip(rows, files, strict=True)
                for m in messages
                for a in stored
            ]
        )
        add_events(_queued_events(items, rows, now))
    return rows


def _store_shared[M: models.Model](shared: Sequence[tuple[M, list[Message]]], field: str) -> None:
    """Insert rows each shared by the copies of one submission (its raw mail, body, To and Cc
    headers) and point the copies at them: the id and the object, as ``Message.<field>``'s
    descriptor would set them, without its checks (a 1,000-copy request)."""
    if not shared:
        return
    insert_all([row for row, _messages in shared])
    attname = f"{field}_id"
    for row, messages in shared:
        for message in messages:
            setattr(message, attname, row.pk)
            message._state.fields_cache[field] = row


def _queued_events(items: list[Queued], rows: list[list[Message]], now: datetime) -> list[Event]:
    """A ``queued`` event for each message: the first made as usual, the others copied from it."""
    events: list[Event] = []
    for item, messages in zip(items, rows, strict=True):
        detail = _queued_detail(item.submission)
        for message in messages:
            if not events:
                events.append(Event(message=message, type=EventType.QUEUED, created_at=now, detail=detail))
                continue
            event = like(events[0], detail=detail, data={})  # a dict of its own, as Event() would give it
            event.message = message  # its id and the object itself (statistics read it)
            events.append(event)
    return events


def _queued_detail(submission: Submission) -> str:
    return "sandbox: validated and recorded, not delivered" if submission.sandbox else ""

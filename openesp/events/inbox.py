"""Storing what arrives, before anything is done with it (``models.InboxBatch``).

While the provider waits, the request only checks the body is JSON (the view does) and writes it
as it came, one row and one statement per request (decision 017): reading each event — its
de-duplication key, whether it is malformed or of a kind openesp ignores — is the workers' job
(``process``), which splits the batch into ``InboxEvent`` rows. The caller answers only after
this returns: after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from openesp.esp.webhooks import ProviderEvent, mailjet, sendgrid
from openesp.events.models import InboxBatch, Source

PARSERS: dict[str, Callable[[Any], ProviderEvent]] = {
    Source.SENDGRID: sendgrid.parse,
    Source.MAILJET: mailjet.parse,
}


def _mail_id(item: Any) -> str:
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, str) else ""


# Each event's id for de-duplication ("" if it has none: it is malformed, processing says why).
EVENT_IDS: dict[str, Callable[[Any], str]] = {
    Source.SENDGRID: sendgrid.event_id,
    Source.MAILJET: mailjet.event_id,
    Source.MX: _mail_id,
    Source.IMAP: _mail_id,
}
MAX_MAIL_BYTES = 10 * 1024 * 1024  # a bounce mail quotes the original: room for attachments


def dedup_key(source: str, event_id: str) -> str:
    return hashlib.sha256(f"{source}\0{event_id}".encode()).hexdigest()


def store_batch(source: str, body: str, events: int) -> int:
    """Store a provider's request body (JSON text, already read as such) of ``events`` events
    as one pending batch; its id."""
    with transaction.atomic():
        return _insert(source, body, events)


def _insert(source: str, body: str, events: int) -> int:
    """One prepared INSERT: the ORM's ``create`` compiles the query and converts every field
    each time, which is noticeable at a thousand requests a second."""
    table = InboxBatch._meta.db_table
    sql = (
        f"INSERT INTO {table} (source, received_at, body, events, state, reason, duplicates)"  # noqa: S608 - our names
        " VALUES (%s, %s, %s, %s, 'pending', '', 0) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, connection.ops.adapt_datetimefield_value(timezone.now()), body, events])
        return int(cursor.fetchone()[0])


def _mail_text(raw: bytes) -> str:
    # latin-1 maps every byte to one character: the exact bytes come back with .encode("latin-1").
    # NUL is dropped: PostgreSQL's text cannot hold it, and no bounce needs it.
    return raw[:MAX_MAIL_BYTES].replace(b"\0", b"").decode("latin-1")


def store_imap(config_id: int, mails: Iterable[bytes]) -> int:
    """Store bounce mail fetched from a configuration's bounce mailbox as one pending batch; how
    many mails. Each is de-duplicated, when processed, by the digest of its bytes (which the IMAP
    server gives back unchanged on every fetch) — not by the bounce's own Message-ID: anyone can
    write one, and a forged mail could then shadow the real bounce. The caller's transaction, if
    any, holds it."""
    items = [
        {"config": config_id, "mail": _mail_text(raw), "id": f"{config_id}:{hashlib.sha256(raw).hexdigest()}"}
        for raw in mails
    ]
    if items:
        store_batch(Source.IMAP, json.dumps(items, ensure_ascii=False), len(items))
    return len(items)


def store_mail(recipients: Iterable[str], raw: bytes) -> int:
    """Store a bounce mail received on the MX, one event per VERP recipient; how many."""
    text = _mail_text(raw)
    digest = hashlib.sha256(raw).hexdigest()
    items = [{"rcpt": rcpt, "mail": text, "id": f"{rcpt.lower()}:{digest}"} for rcpt in recipients]
    if items:
        store_batch(Source.MX, json.dumps(items, ensure_ascii=False), len(items))
    return len(items)

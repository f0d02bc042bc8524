"""Storing what arrives, before anything is done with it (``models.InboxEvent``).

While the provider waits, only each event's id is read (its de-duplication key); parsing it —
and finding it malformed, or of a kind openesp ignores, which the row then says with the
reason — is the workers' job (``process``). All rows of a batch are written in one statement
and transaction; a row whose key is stored already (a replayed batch, a provider's retry) is
skipped by the unique constraint. The caller answers only after this returns: after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from openesp.esp.webhooks import ProviderEvent, mailjet, sendgrid
from openesp.events.models import InboxEvent, Source

PARSERS: dict[str, Callable[[Any], ProviderEvent]] = {
    Source.SENDGRID: sendgrid.parse,
    Source.MAILJET: mailjet.parse,
}
# What the request itself reads of each event: only its id. Parsing (and finding an event
# malformed or of a kind openesp ignores) happens when the workers process the row.
EVENT_IDS: dict[str, Callable[[Any], str]] = {
    Source.SENDGRID: sendgrid.event_id,
    Source.MAILJET: mailjet.event_id,
}
MAX_MAIL_BYTES = 10 * 1024 * 1024  # a bounce mail quotes the original: room for attachments


@dataclass(frozen=True)
class Stored:
    received: int  # events in the request
    stored: int  # new rows (a replay stores none)


Row = tuple[str, datetime, str | None, Any]  # source, received at, dedup key (None: none), payload


def dedup_key(source: str, event_id: str) -> str:
    return hashlib.sha256(f"{source}\0{event_id}".encode()).hexdigest()


def store_batch(source: str, items: Iterable[Any]) -> Stored:
    """Store a provider's events; returns how many arrived and how many were new.

    An event without an id of its own is stored without a key (it is malformed: processing
    says why); a replay of such an event cannot be recognised and is stored again.
    """
    now, event_id = timezone.now(), EVENT_IDS[source]
    rows: list[Row] = []
    for item in items:
        found = event_id(item)
        rows.append((source, now, dedup_key(source, found) if found else None, item))
    with transaction.atomic():
        stored = _insert(rows)
    return Stored(received=len(rows), stored=stored)


def _insert(rows: list[Row]) -> int:
    """One prepared ``INSERT … ON CONFLICT DO NOTHING`` for many rows; the number inserted.

    The ORM's ``bulk_create`` cost more per row than everything else a webhook request does,
    and with ``ignore_conflicts`` it cannot say how many rows were new; the driver's row count can.
    """
    if not rows:
        return 0
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    table = InboxEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} (source, received_at, dedup_key, state, reason, payload)"  # noqa: S608 - our names
        f" VALUES (%s, %s, %s, 'pending', '', %s{json_cast}) ON CONFLICT (dedup_key) DO NOTHING"
    )
    ops = connection.ops
    params = [(source, ops.adapt_datetimefield_value(at), key, _json(payload)) for source, at, key, payload in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return max(int(cursor.rowcount), 0)


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # PostgreSQL's jsonb cannot hold NUL in a string: keep the event, without it (rare path).
    return json.dumps(_without_nul(value), ensure_ascii=False) if "\\u0000" in text else text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _mail_text(raw: bytes) -> str:
    # latin-1 maps every byte to one character: the exact bytes come back with .encode("latin-1").
    # NUL is dropped: PostgreSQL's JSON cannot hold it, and no bounce needs it.
    return raw[:MAX_MAIL_BYTES].replace(b"\0", b"").decode("latin-1")


def imap_key(config_id: int, raw: bytes) -> str:
    """The de-duplication key of a mail fetched from a bounce mailbox: the digest of its bytes,
    which the IMAP server gives back unchanged on every fetch. Not the bounce's own Message-ID:
    anyone can write one, and a forged mail could then shadow the real bounce."""
    return dedup_key(Source.IMAP, f"{config_id}:{hashlib.sha256(raw).hexdigest()}")


def store_imap(config_id: int, mails: Iterable[bytes]) -> int:
    """Store bounce mail fetched from a configuration's bounce mailbox; rows added (a mail
    stored before adds none). The caller's transaction, if any, holds it."""
    now = timezone.now()
    rows: list[Row] = [
        (Source.IMAP, now, imap_key(config_id, raw), {"config": config_id, "mail": _mail_text(raw)}) for raw in mails
    ]
    with transaction.atomic():
        return _insert(rows)


def store_mail(recipients: Iterable[str], raw: bytes) -> int:
    """Store a bounce mail received on the MX, once per VERP recipient; rows added."""
    text = _mail_text(raw)
    digest = hashlib.sha256(raw).hexdigest()
    now = timezone.now()
    rows: list[Row] = [
        (Source.MX, now, dedup_key(Source.MX, f"{rcpt.lower()}:{digest}"), {"rcpt": rcpt, "mail": text})
        for rcpt in recipients
    ]
    with transaction.atomic():
        return _insert(rows)

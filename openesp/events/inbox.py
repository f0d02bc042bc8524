"""Storing what arrives, before anything is done with it (``models.InboxEvent``).

A webhook batch is read event by event with the provider's pure parser: a readable event gets
its de-duplication key, an unreadable one is kept as ``malformed`` and an unwanted one as
``ignored``, each with the reason. All rows of a batch are written in one transaction; a row
whose key is stored already (a replayed batch, a provider's retry) is skipped by the unique
constraint. The caller answers the provider only after this returns, i.e. after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from openesp.esp.webhooks import Ignored, Malformed, ProviderEvent, mailjet, sendgrid
from openesp.events.models import InboxEvent, Source, State

PARSERS: dict[str, Callable[[Any], ProviderEvent]] = {
    Source.SENDGRID: sendgrid.parse,
    Source.MAILJET: mailjet.parse,
}
MAX_MAIL_BYTES = 10 * 1024 * 1024  # a bounce mail quotes the original: room for attachments


@dataclass(frozen=True)
class Stored:
    received: int  # events in the request
    stored: int  # new rows (a replay stores none)


def dedup_key(source: str, event_id: str) -> str:
    return hashlib.sha256(f"{source}\0{event_id}".encode()).hexdigest()


def row_for(source: str, item: Any, now: Any) -> InboxEvent:
    try:
        event = PARSERS[source](item)
    except Malformed as exc:
        return InboxEvent(source=source, received_at=now, state=State.MALFORMED, reason=str(exc)[:300], payload=item)
    except Ignored as exc:
        # Still de-duplicated: a replay of an ignored event is as unwanted as the first.
        key = dedup_key(source, "ignored:" + json.dumps(item, sort_keys=True))
        return InboxEvent(source=source, received_at=now, state=State.IGNORED, reason=str(exc)[:300], payload=item,
                          dedup_key=key)  # fmt: skip
    return InboxEvent(source=source, received_at=now, dedup_key=dedup_key(source, event.event_id), payload=item)


def store_batch(source: str, items: Iterable[Any]) -> Stored:
    """Store a provider's events; returns how many arrived and how many were new."""
    now = timezone.now()
    rows = [row_for(source, item, now) for item in items]
    with transaction.atomic():
        stored = _insert(rows)
    return Stored(received=len(rows), stored=stored)


def _insert(rows: list[InboxEvent]) -> int:
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
        f" VALUES (%s, %s, %s, %s, %s, %s{json_cast}) ON CONFLICT (dedup_key) DO NOTHING"
    )
    ops = connection.ops
    params = [
        (r.source, ops.adapt_datetimefield_value(r.received_at), r.dedup_key, r.state, r.reason, _json(r.payload))
        for r in rows
    ]
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


def store_mail(recipients: Iterable[str], raw: bytes) -> int:
    """Store a bounce mail received on the MX, once per VERP recipient; rows added."""
    # latin-1 maps every byte to one character: the exact bytes come back with .encode("latin-1").
    # NUL is dropped: PostgreSQL's JSON cannot hold it, and no bounce needs it.
    text = raw[:MAX_MAIL_BYTES].replace(b"\0", b"").decode("latin-1")
    digest = hashlib.sha256(raw).hexdigest()
    now = timezone.now()
    rows = [
        InboxEvent(source=Source.MX, received_at=now, dedup_key=dedup_key(Source.MX, f"{rcpt.lower()}:{digest}"),
                   payload={"rcpt": rcpt, "mail": text})
        for rcpt in recipients
    ]  # fmt: skip
    with transaction.atomic():
        return _insert(rows)

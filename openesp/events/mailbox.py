"""Polling the bounce mailboxes of custom SMTP configurations (IMAP), run by the workers.

Every ``OPENESP_IMAP_POLL_SECONDS`` each enabled mailbox is read once. A worker claims a
mailbox with a conditional UPDATE of ``imap_next_poll_at`` (due → a lease in the future), so
two workers never poll one mailbox at once; one that dies mid-poll leaves it to be polled
again when the lease runs out. A poll reads the folder's mail newer than the highest UID read
before (the first poll, or after the folder's UIDVALIDITY changed: the last
``FIRST_POLL_DAYS`` days), without marking it seen (``BODY.PEEK``), keeps only what
``events.dsn`` reads as a bounce or complaint (other mail in the folder is not stored), and
stores those in the inbox, where the workers process them like the MX's bounce mail
(``events.process``). The new highest UID is written in the transaction that stores the mail,
so a crash between the two repeats nothing; a mail read twice anyway (a changed UIDVALIDITY)
is stored again but processed once (its de-duplication key: the digest of its bytes,
``inbox.store_imap``). The bounces stored are then
marked ``\\Seen`` on the server, for people looking at the folder; nothing is moved or deleted.
A failure (refused login, connection refused, a folder that does not exist) is recorded on the
configuration and shown on its page; it never stops the worker.
"""

from __future__ import annotations

import imaplib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from openesp.esp.imap import ImapFailed, close, fetch, mailbox_for, mark_seen, open_mailbox, search_uids
from openesp.esp.models import EspConfig, EspKind
from openesp.events.dsn import read_bounce
from openesp.events.inbox import MAX_MAIL_BYTES, store_imap
from openesp.lib.secretbox import SecretUnreadable

log = logging.getLogger("openesp.events.mailbox")
LEASE = timedelta(minutes=10)  # longer than a poll may take (BUDGET plus the IMAP timeouts)
BUDGET = 60.0  # seconds of reading per poll; the rest waits for the next poll, which comes at once
BATCH = 200  # messages read per poll at most
CHUNK = 20  # messages stored (and the watermark moved) per transaction
FIRST_POLL_DAYS = 7  # a mailbox read for the first time: its mail of this many days
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Polled:
    config_id: int
    read: int = 0  # messages fetched
    stored: int = 0  # bounces stored in the inbox (new ones)
    error: str = ""


def _due(now: datetime) -> Q:
    return Q(imap_next_poll_at__isnull=True) | Q(imap_next_poll_at__lte=now)


def poll_due(now: datetime | None = None, limit: int = 1) -> list[Polled]:
    """Poll up to ``limit`` due mailboxes, each claimed first; what each poll did."""
    now = now or timezone.now()
    candidates = list(
        EspConfig.objects.filter(_due(now), kind=EspKind.SMTP, imap_enabled=True)
        .exclude(imap_host="")
        .order_by(F("imap_next_poll_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[: limit * 4]
    )
    done: list[Polled] = []
    for config_id in candidates:
        if len(done) >= limit:
            break
        if claim(config_id, now):
            done.append(poll_mailbox(config_id))
    return done


def claim(config_id: int, now: datetime) -> bool:
    """Take a due mailbox for one poll: False when another worker took it first (on PostgreSQL
    the second UPDATE waits for the first's row lock and then finds it no longer due)."""
    return bool(
        EspConfig.objects.filter(_due(now), pk=config_id, imap_enabled=True).update(imap_next_poll_at=now + LEASE)
    )


def poll_mailbox(config_id: int) -> Polled:
    """Read one (claimed) mailbox and store its new bounces; failures are recorded, not raised."""
    config = EspConfig.objects.get(pk=config_id)
    where = {"pk": config_id, "imap_host": config.imap_host, "imap_folder": config.imap_folder}
    try:
        mailbox = mailbox_for(config)
    except SecretUnreadable:
        return _finish(where, Polled(config_id, error="the stored password cannot be read; enter it again"))
    try:
        client, _count = open_mailbox(mailbox)
    except ImapFailed as exc:
        log.warning("bounce mailbox of config %s: %s failed: %s", config_id, exc.step, exc)
        return _finish(where, Polled(config_id, error=str(exc)))
    try:
        read, stored, more = _read(client, config, where)
    except (ImapFailed, imaplib.IMAP4.error, OSError) as exc:
        log.warning("bounce mailbox of config %s: reading failed: %s", config_id, exc)
        return _finish(where, Polled(config_id, error=f"reading the folder failed: {' '.join(str(exc).split())}"))
    except Exception as exc:  # a bug must not stop the worker; the operator finds it in the log
        log.exception("bounce mailbox of config %s: polling failed", config_id)
        return _finish(where, Polled(config_id, error=f"polling failed ({type(exc).__name__}); see the server log"))
    finally:
        close(client)
    return _finish(where, Polled(config_id, read=read, stored=stored), more=more)


def _uid_validity(client: imaplib.IMAP4) -> int | None:
    _name, data = client.response("UIDVALIDITY")
    value = data[0] if data else None
    return int(value) if isinstance(value, bytes) and value.isdigit() else None


def _since(days: int) -> str:
    day = (timezone.now() - timedelta(days=days)).date()
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"  # IMAP's date, not the locale's


def _read(client: imaplib.IMAP4, config: EspConfig, where: dict[str, object]) -> tuple[int, int, bool]:
    started = time.monotonic()
    validity = _uid_validity(client)
    last = config.imap_last_uid if validity is not None and config.imap_uid_validity == validity else 0
    if last:
        # "n:*" always includes the newest message, even when its UID is below n.
        uids = [uid for uid in search_uids(client, f"UID {last + 1}:*") if uid > last]
    else:
        uids = search_uids(client, f"SINCE {_since(FIRST_POLL_DAYS)}")
    more = len(uids) > BATCH
    uids = uids[:BATCH]
    read = stored = 0
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start : start + CHUNK]
        bounces: list[bytes] = []
        bounce_uids: list[int] = []
        for uid in chunk:
            raw = fetch(client, uid, MAX_MAIL_BYTES)
            read += 1
            # Only bounces and complaints are kept: other mail in the folder is nobody's business here.
            if raw is not None and read_bounce(raw):
                bounces.append(raw)
                bounce_uids.append(uid)
        with transaction.atomic():
            stored += store_imap(config.pk, bounces)
            EspConfig.objects.filter(**where).update(imap_uid_validity=validity, imap_last_uid=chunk[-1])
        mark_seen(client, bounce_uids)
        if time.monotonic() - started > BUDGET and start + CHUNK < len(uids):
            more = True
            break
    return read, stored, more


def _finish(where: dict[str, object], polled: Polled, *, more: bool = False) -> Polled:
    """Record the poll on the config (unless its mailbox was changed meanwhile: that change
    asked for a poll of its own) and set the next one."""
    now = timezone.now()
    next_poll = now if more else now + timedelta(seconds=settings.OPENESP_IMAP_POLL_SECONDS)
    fields: dict[str, object] = {"imap_polled_at": now, "imap_next_poll_at": next_poll}
    if polled.error:
        fields.update(imap_error=polled.error[:300], imap_error_at=now)
    else:
        fields.update(imap_error="", imap_error_at=None, imap_last_read=polled.read, imap_last_stored=polled.stored)
    EspConfig.objects.filter(**where).update(**fields)
    return polled

"""Queueing a campaign's mail set-wise: one link row and one queued, bodiless ``Message`` per
recipient, written by ``INSERT … SELECT`` (``campaigns.render`` renders the body at send time).

The message ids come from the messages' own sequence (PostgreSQL) or are reserved under
SQLite's write lock, so the link rows (keyed by the message id) and the messages are written
from the same rows. On PostgreSQL one statement does it: the chosen recipients are read once
into a materialized CTE that both inserts read. What each part costs for a million recipients
is in docs/benchmarks.md ("Campaign expansion").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from openesp.audience.models import Contact
from openesp.campaigns.models import Campaign, CampaignMessage, Recipient, TemplateVersion
from openesp.messaging.models import Message, Status

SQLITE_CACHE_KIB = 256 * 1024

# Called with (campaign, category, now, count) after mail is queued set-wise, in the same
# transaction: the queued messages get no ``queued`` event each, and the statistics above
# campaigns (``stats``, registered when Django starts) count them from this.
QueuedHook = Callable[[Campaign, str, datetime, int], None]
_queued_hooks: list[QueuedHook] = []


def on_queued(hook: QueuedHook) -> None:
    """Call ``hook`` after every set-wise queueing from now on (once per hook)."""
    if hook not in _queued_hooks:
        _queued_hooks.append(hook)


def queued(campaign: Campaign, category: str, now: datetime, count: int) -> int:
    """Tell the hooks that ``count`` messages were queued; returns ``count``."""
    for hook in _queued_hooks:
        hook(campaign, category, now, count)
    return count


@contextlib.contextmanager
def large_cache() -> Iterator[None]:
    """SQLite's default page cache is 2 MB; the message table's indexes grow by a million
    entries in one statement, and past the cache every insert reads pages back. Wrap the
    transaction in it: the pages are only used while the statements need them."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def bulk_settings() -> None:
    """Inside the transaction of a large expansion, on PostgreSQL: no JIT (it compiled the
    statements for about a second, to save less), and memory enough for the statement's sorts,
    hashes and CTEs to stay out of temporary files. ``SET LOCAL`` ends with the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: Any) -> str:
    return quote(model._meta.db_table)


def _id_expression() -> tuple[str, list[Any]]:
    """SQL for "the next message id", one per row of the SELECT it stands in."""
    if connection.vendor == "postgresql":
        # The sequence is named once: pg_get_serial_sequence per row was a catalog look-up per
        # message (about 12 s for a million).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Message._meta.db_table])
            (sequence,) = cursor.fetchone()
        return "nextval(%s::regclass)", [sequence]
    # SQLite: this transaction holds the write lock (the caller has written already), so the ids
    # above the highest one used (or ever used: AUTOINCREMENT) are ours to take.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {table(Message)}), 0))",
            [Message._meta.db_table],
        )
        (base,) = cursor.fetchone()
    return "%s + ROW_NUMBER() OVER (ORDER BY r.id)", [int(base)]


def _public_id(now: datetime) -> tuple[str, list[Any]]:
    """SQL for the messages' public ids: UUIDv7 (RFC 9562) made by the database.

    48 bits of Unix time in milliseconds, a 24-bit counter (RFC 9562 §6.2 method 1: the message
    id, which grows with each row; 12 bits in ``rand_a``, 12 after the variant), and 48 random
    bits. Being time-ordered, a million new ids append to the end of the unique index on
    ``public_id`` instead of landing all over it. The public id names a message in the API and
    its Message-ID; it is not a secret (a tenant check guards every look-up by it), so the
    random bits come from the database's fast generator (PostgreSQL ``random()``, SQLite
    ``randomblob``): ``gen_random_uuid()`` and ``md5`` per row cost about 5 s a million.
    """
    ms = int(now.timestamp() * 1000)
    if connection.vendor == "postgresql":
        # The constant prefix is the time and the version; the low 64 bits are one bigint
        # (variant 10, 12 counter bits, 48 random bits) whose to_hex is always 16 digits; floor, as
        # rounding could make 2**48, a bit of the counter.
        return (
            "(%s || lpad(to_hex((l.message_id >> 12) & 4095), 3, '0') || to_hex((1::bigint << 63) "
            "| ((l.message_id & 4095) << 48) | floor(random() * 281474976710656)::bigint))::uuid",
            [f"{ms:012x}7"],
        )
    return (
        "printf('%%012x7%%03x8%%03x%%s', %s, (l.message_id >> 12) & 4095, l.message_id & 4095, "
        "lower(hex(randomblob(6))))",
        [ms],
    )


def _json(value: object) -> tuple[str, list[Any]]:
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    return f"%s{cast}", [json.dumps(value)]


def queue_messages(
    campaign: Campaign,
    recipients: QuerySet[Recipient],
    *,
    purpose: str,
    version: TemplateVersion,
    category: str,
    now: datetime,
    not_before: datetime | None = None,
    link: dict[str, int] | None = None,
) -> int:
    """One link row and one queued message (no body: ``render_message`` renders it) for each of
    ``recipients``. ``link`` adds columns to the link rows (``reminder_id``, ``response_id``)
    that also tell this batch's rows from earlier ones. Call it inside a transaction that has
    written already (the campaign's transition)."""
    link = link or {}
    chosen_sql, chosen_params = recipients.order_by().values("id").query.sql_with_params()
    r, c = table(Recipient), table(Contact)
    if connection.vendor == "postgresql":
        ctes, params = queue_ctes(
            campaign,
            f"SELECT r.id, r.email, COALESCE(c.name, '') FROM {r} r LEFT JOIN {c} c ON c.id = r.contact_id "  # noqa: S608
            f"WHERE r.id IN ({chosen_sql})",
            list(chosen_params),
            purpose=purpose, version=version, category=category, now=now, not_before=not_before or now, link=link,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {ctes} SELECT COUNT(*) FROM l", params)  # noqa: S608
            return queued(campaign, category, now, int(cursor.fetchone()[0]))
    id_sql, id_params = _id_expression()
    links, link_params = _link_insert(campaign, purpose=purpose, version=version, link=link)
    message_sql, message_params = _message_insert(campaign, category=category, now=now, not_before=not_before or now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{links} SELECT {id_sql}, r.id{link_params[0]} FROM {r} r WHERE r.id IN ({chosen_sql}) "  # noqa: S608
            "ORDER BY r.id",
            [*id_params, *link_params[1], *chosen_params],
        )
        where = "".join(f" AND cm.{quote(name)} = %s" for name in link)
        cursor.execute(
            f"{message_sql} FROM (SELECT cm.message_id AS message_id, r.email AS email, COALESCE(c.name, '') AS name "  # noqa: S608
            f"FROM {table(CampaignMessage)} cm JOIN {r} r ON r.id = cm.recipient_id "
            f"LEFT JOIN {c} c ON c.id = r.contact_id WHERE cm.message_id > %s AND cm.campaign_id + 0 = %s "
            f"AND cm.purpose = %s{where} "
            # The links just written are the ones above the base (the ids are ours, under the
            # write lock): read along the primary key from there, in message id order, not
            # through the campaign index (``+ 0``), which lists every earlier link of the
            # campaign too (its invitations come in chunks).
            "ORDER BY cm.message_id) l",
            [*message_params, *id_params, campaign.pk, purpose, *link.values()],
        )
        return queued(campaign, category, now, int(cursor.rowcount))


def queue_ctes(
    campaign: Campaign,
    chosen_sql: str,
    chosen_params: list[Any],
    *,
    purpose: str,
    version: TemplateVersion,
    category: str,
    now: datetime,
    not_before: datetime,
    link: dict[str, int],
) -> tuple[str, list[Any]]:
    """PostgreSQL: the CTEs ``l`` (one row per recipient with its message id, in recipient
    order), ``links`` and ``queued`` (the two inserts) for the recipients ``chosen_sql`` selects
    as (id, email, name). A statement ``WITH`` them runs both inserts, whatever it selects."""
    id_sql, id_params = _id_expression()
    links, link_params = _link_insert(campaign, purpose=purpose, version=version, link=link)
    message_sql, message_params = _message_insert(campaign, category=category, now=now, not_before=not_before)
    # nextval is volatile, so PostgreSQL evaluates it after the sort: ids follow recipient order.
    return (
        f"l AS MATERIALIZED (SELECT {id_sql} AS message_id, r.id AS recipient_id, r.email AS email, r.name AS name "  # noqa: S608
        f"FROM ({chosen_sql}) AS r (id, email, name) ORDER BY r.id), "
        f"links AS ({links} SELECT l.message_id, l.recipient_id{link_params[0]} FROM l), "
        f"queued AS ({message_sql} FROM l)",
        [*id_params, *chosen_params, *link_params[1], *message_params],
    )


def _link_insert(
    campaign: Campaign, *, purpose: str, version: TemplateVersion, link: dict[str, int]
) -> tuple[str, tuple[str, list[Any]]]:
    """``INSERT INTO`` the links (message_id, recipient_id, …), and the SQL and parameters of
    the columns after those two."""
    columns = ["message_id", "recipient_id", "campaign_id", "version_id", "purpose", *link]
    extra = ", %s, %s, %s" + "".join(", %s" for _ in link)
    return (
        f"INSERT INTO {table(CampaignMessage)} ({', '.join(quote(name) for name in columns)})",
        (extra, [campaign.pk, version.pk, purpose, *link.values()]),
    )


def _message_insert(campaign: Campaign, *, category: str, now: datetime, not_before: datetime) -> tuple[str, list[Any]]:
    """``INSERT INTO`` the messages ``SELECT`` their columns, to be followed by ``FROM`` a
    relation ``l`` of (``message_id``, ``email``, ``name``)."""
    workspace = campaign.workspace
    metadata_sql, metadata_params = _json({"campaign": str(campaign.pk)})
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    values: dict[str, tuple[str, list[Any]]] = {
        "id": ("l.message_id", []),
        "public_id": _public_id(now),
        "organization": ("%s", [workspace.organization_id]),
        "workspace": ("%s", [workspace.pk]),
        "user": ("%s", [campaign.created_by_id]),
        "category": ("%s", [category]),
        "from_email": ("%s", [campaign.from_email]),
        "from_name": ("%s", [campaign.from_name]),
        "to_email": ("l.email", []),
        "to_name": ("l.name", []),
        "reply_to": ("%s", [campaign.reply_to]),
        "metadata": (metadata_sql, metadata_params),
        "status": ("%s", [Status.QUEUED.value]),
        "not_before": ("%s", [ops.adapt_datetimefield_value(not_before)]),
        "created_at": ("%s", [at]),
        "updated_at": ("%s", [at]),
    }
    columns, selects, params = [], [], []
    for field in Message._meta.concrete_fields:
        if field.name in values:
            sql, field_params = values[field.name]
        elif field.null and not field.has_default():
            continue
        else:  # any other column gets the model's default, so a new field needs no change here
            sql, field_params = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        if sql == "%s" and connection.vendor == "postgresql" and field.get_internal_type() == "JSONField":
            sql = "%s::jsonb"
        columns.append(quote(str(field.column)))
        selects.append(sql)
        params.extend(field_params)
    return f"INSERT INTO {table(Message)} ({', '.join(columns)}) SELECT {', '.join(selects)}", params

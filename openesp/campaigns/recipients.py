"""Freezing a campaign's audience and queueing its mail, set-wise in SQL.

``freeze_audience`` counts the contacts left out, by reason, and inserts one ``Recipient`` per
eligible contact with one ``INSERT … SELECT``; ``queue_messages`` then inserts one link row and
one queued ``Message`` (no body) per recipient, also set-wise. The message ids come from the
messages' own sequence (PostgreSQL) or are reserved under SQLite's write lock, so the link rows
(keyed by the message id) and the messages are written by two statements that join nothing
random. Nothing here loops over contacts in Python.

A contact is eligible when it is active, no suppression (of the workspace or the operator's)
names its address, and it is subscribed (not pending, not unsubscribed) to one of the campaign's
lists, or, for a segment-only campaign, to any list of the workspace. With lists and a segment,
the segment narrows the lists' subscribers. Reasons for leaving a contact out, first match wins:
``suppressed`` (a bounce, complaint or manual suppression, or the contact bounced or
complained), ``unsubscribed`` (an unsubscribe suppression or the contact unsubscribed),
``not_subscribed``. An erased contact no longer exists; a recipient whose contact is erased
after the freeze is counted ``erased`` and its mail is not sent (``campaigns.render``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from openesp.audience.models import Contact, ContactStatus, Subscription, SubscriptionStatus, Suppression
from openesp.audience.models import SuppressionReason as Reason
from openesp.audience.segment_syntax import parse
from openesp.audience.segments import compile_query
from openesp.campaigns.models import Campaign, CampaignMessage, Recipient, TemplateVersion
from openesp.messaging.models import Message, Status

ELIGIBLE = "eligible"
EXCLUSION_REASONS = ("suppressed", "unsubscribed", "not_subscribed")


@dataclass(frozen=True)
class Frozen:
    audience: int
    excluded: dict[str, int]


def candidates(campaign: Campaign, now: datetime) -> QuerySet[Contact]:
    """The contacts the campaign is meant for, before exclusions."""
    contacts = Contact.objects.filter(workspace_id=campaign.workspace_id)
    list_ids = list(campaign.lists.values_list("id", flat=True))
    if list_ids:
        contacts = contacts.filter(
            Exists(Subscription.objects.filter(contact=OuterRef("pk"), contact_list_id__in=list_ids))
        )
    if campaign.segment is not None:
        node = parse(campaign.segment.query)
        contacts = contacts.filter(compile_query(node, campaign.segment.workspace, now))
    elif not list_ids:
        return contacts.none()
    return contacts


def _conditions(campaign: Campaign) -> dict[str, Q]:
    list_ids = list(campaign.lists.values_list("id", flat=True))
    subscriptions = Subscription.objects.filter(contact=OuterRef("pk"))
    if list_ids:
        subscriptions = subscriptions.filter(contact_list_id__in=list_ids)
    subscribed = Exists(subscriptions.filter(status=SubscriptionStatus.SUBSCRIBED))
    left = Exists(subscriptions.filter(status=SubscriptionStatus.UNSUBSCRIBED))
    # Two look-ups, each served by one of the suppression table's unique indexes.
    mine = Suppression.objects.filter(workspace_id=campaign.workspace_id, email=OuterRef("email_key"))
    everyone = Suppression.objects.filter(workspace__isnull=True, email=OuterRef("email_key"))
    unsubscribe = {"reason": Reason.UNSUBSCRIBE}
    return {
        "suppressed": Q(status__in=[ContactStatus.BOUNCED, ContactStatus.COMPLAINED])
        | Exists(mine.exclude(**unsubscribe))
        | Exists(everyone.exclude(**unsubscribe)),
        "unsubscribed": Q(status=ContactStatus.UNSUBSCRIBED) | Exists(mine.filter(**unsubscribe))
        | Exists(everyone.filter(**unsubscribe)) | (left & ~subscribed),
        "not_subscribed": Q(~subscribed),
    }  # fmt: skip


def with_reasons(campaign: Campaign, now: datetime) -> QuerySet[Contact]:
    """The candidates, each with ``reason``: its first exclusion, or ``eligible``."""
    conditions = _conditions(campaign)
    reason = Case(
        *(When(conditions[name], then=Value(name)) for name in EXCLUSION_REASONS),
        default=Value(ELIGIBLE),
        output_field=CharField(),
    )
    return candidates(campaign, now).annotate(reason=reason)


def freeze_audience(campaign: Campaign, now: datetime | None = None) -> Frozen:
    """Insert the campaign's recipients and record the counts on the campaign. Call it inside
    the transaction that moves the campaign to ``sending``; the unique (campaign, contact)
    constraint stops a second freeze.

    The exclusions are evaluated once per candidate, into a temporary table that the counts
    and the recipients are then read from."""
    now = now or timezone.now()
    pending = _table_name("openesp_freeze")
    reasons = with_reasons(campaign, now).order_by().values_list("pk", "email", "reason")  # type: ignore[misc]
    select, params = reasons.query.sql_with_params()
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {pending} (contact_id bigint, email varchar(320), reason varchar(16))"
                       f"{on_commit}")  # fmt: skip
        try:
            cursor.execute(f"INSERT INTO {pending} (contact_id, email, reason) {select}", params)
            cursor.execute(f"SELECT reason, COUNT(*) FROM {pending} GROUP BY reason")  # noqa: S608
            counts = dict(cursor.fetchall())
            cursor.execute(
                f"INSERT INTO {_table(Recipient)} (campaign_id, contact_id, email, created_at) "  # noqa: S608
                f"SELECT %s, contact_id, email, %s FROM {pending} WHERE reason = %s ORDER BY contact_id",
                [campaign.pk, connection.ops.adapt_datetimefield_value(now), ELIGIBLE],
            )
            audience = int(cursor.rowcount)
        finally:
            if connection.vendor != "postgresql":
                cursor.execute(f"DROP TABLE {pending}")
    excluded = {name: int(counts.get(name, 0)) for name in EXCLUSION_REASONS}
    Campaign.objects.filter(pk=campaign.pk).update(
        audience=audience,
        excluded_suppressed=excluded["suppressed"],
        excluded_unsubscribed=excluded["unsubscribed"],
        excluded_not_subscribed=excluded["not_subscribed"],
    )
    campaign.refresh_from_db()
    return Frozen(audience, excluded)


def _table_name(prefix: str) -> str:
    # A name of its own per call: a temporary table lives as long as the connection (SQLite).
    return f"{prefix}_{secrets.token_hex(6)}"


# --- queueing ----------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model: Any) -> str:
    return _quote(model._meta.db_table)


def _column(model: Any, name: str) -> str:
    return _quote(model._meta.get_field(name).column)


def _id_expression() -> tuple[str, list[Any]]:
    """SQL for "the next message id", one per row of the SELECT it stands in."""
    if connection.vendor == "postgresql":
        return "nextval(pg_get_serial_sequence(%s, 'id'))", [Message._meta.db_table]
    # SQLite: this transaction holds the write lock (the caller has written already), so the ids
    # above the highest one used (or ever used: AUTOINCREMENT) are ours to take.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {_table(Message)}), 0))",
            [Message._meta.db_table],
        )
        (base,) = cursor.fetchone()
    return "%s + ROW_NUMBER() OVER (ORDER BY r.id)", [int(base)]


def _public_id(now: datetime) -> tuple[str, list[Any]]:
    """SQL for the messages' public ids: UUIDv7 (RFC 9562) made by the database.

    48 bits of Unix time in milliseconds, a 24-bit counter (RFC 9562 §6.2 method 1: the message
    id, which grows with each row), and 48 random bits from the database's random source. Being
    time-ordered, a million new ids append to the end of the unique index on ``public_id``
    instead of landing all over it (a random UUIDv4 would cost a page read per row once the
    index outgrows the cache). The public id names a message in the API and its Message-ID; it
    is not a secret (a tenant check guards every look-up by it).
    """
    ms = int(now.timestamp() * 1000)
    if connection.vendor == "postgresql":
        return (
            "(lpad(to_hex(%s::bigint), 12, '0') || '7' || lpad(to_hex((l.message_id >> 12) & 4095), 3, '0') || '8' "
            "|| lpad(to_hex(l.message_id & 4095), 3, '0') || substr(md5(gen_random_uuid()::text), 1, 12))::uuid",
            [ms],
        )
    return (
        "printf('%%012x', %s) || '7' || printf('%%03x', (l.message_id >> 12) & 4095) || '8' "
        "|| printf('%%03x', l.message_id & 4095) || lower(hex(randomblob(6)))",
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
    id_sql, id_params = _id_expression()
    chosen_sql, chosen_params = recipients.order_by().values("id").query.sql_with_params()
    r = _table(Recipient)
    columns = ["message_id", "campaign_id", "recipient_id", "version_id", "purpose", *link]
    extra = "".join(", %s" for _ in link)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(CampaignMessage)} ({', '.join(_quote(c) for c in columns)}) "  # noqa: S608
            f"SELECT {id_sql}, %s, r.id, %s, %s{extra} FROM {r} r WHERE r.id IN ({chosen_sql}) ORDER BY r.id",
            [*id_params, campaign.pk, version.pk, purpose, *link.values(), *chosen_params],
        )
    return _insert_messages(campaign, purpose=purpose, category=category, now=now,
                            not_before=not_before or now, link=link)  # fmt: skip


def _insert_messages(
    campaign: Campaign, *, purpose: str, category: str, now: datetime, not_before: datetime, link: dict[str, int]
) -> int:
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
        "to_email": ("r.email", []),
        "to_name": ("COALESCE(c.name, '')", []),
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
        columns.append(_quote(str(field.column)))
        selects.append(sql)
        params.extend(field_params)
    where = " AND ".join(f"l.{_quote(name)} = %s" for name in link)
    where_params = list(link.values())
    if not link:
        where = "1 = 1"
    m, cm, r, c = _table(Message), _table(CampaignMessage), _table(Recipient), _table(Contact)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {m} ({', '.join(columns)}) SELECT {', '.join(selects)} "  # noqa: S608 - our own names
            f"FROM {cm} l JOIN {r} r ON r.id = l.recipient_id LEFT JOIN {c} c ON c.id = r.contact_id "
            f"WHERE l.campaign_id = %s AND l.purpose = %s AND {where} ORDER BY l.message_id",
            [*params, campaign.pk, purpose, *where_params],
        )
        return int(cursor.rowcount)

"""Freezing a campaign's audience and queueing its mail, set-wise in SQL.

``freeze_audience`` counts the contacts left out, by reason, and inserts one ``Recipient`` per
eligible contact with one ``INSERT … SELECT``, when the campaign starts; the invitations are
then queued in chunks (``campaigns.invitations``). Nothing here loops over contacts in Python.

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

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, Exists, Max, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from openesp.audience.models import Contact, ContactStatus, Subscription, SubscriptionStatus, Suppression
from openesp.audience.models import SuppressionReason as Reason
from openesp.audience.segment_syntax import parse
from openesp.audience.segments import compile_query
from openesp.campaigns.models import Campaign, Recipient
from openesp.campaigns.queueing import table

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


def _facts(campaign: Campaign, now: datetime) -> QuerySet[Contact]:
    """The candidates with what their reason is decided from, each looked up once: the
    suppression of the address in the workspace and the operator's (each unique, so at most
    one reason each), and whether the contact is subscribed to, or left, the campaign's lists
    (one look-up for both)."""
    list_ids = list(campaign.lists.values_list("id", flat=True))
    subscriptions = Subscription.objects.filter(contact=OuterRef("pk"))
    if list_ids:
        subscriptions = subscriptions.filter(contact_list_id__in=list_ids)
    suppressions = Suppression.objects.filter(email=OuterRef("email_key"))
    return candidates(campaign, now).annotate(
        display=Coalesce("name", Value("")),
        suppressed_here=Subquery(suppressions.filter(workspace_id=campaign.workspace_id).values("reason")[:1]),
        suppressed_everywhere=Subquery(suppressions.filter(workspace__isnull=True).values("reason")[:1]),
        # 2: subscribed to one of the lists; 1: left them (and subscribed to none); 0 or NULL: neither.
        subscription=Subquery(
            subscriptions.order_by()
            .values("contact")
            .annotate(
                state=Max(
                    Case(
                        When(status=SubscriptionStatus.SUBSCRIBED, then=Value(2)),
                        When(status=SubscriptionStatus.UNSUBSCRIBED, then=Value(1)),
                        default=Value(0),
                    )
                )
            )
            .values("state")[:1]
        ),
    )


# The reason of a candidate, first match wins, from the columns of ``_facts``.
_REASON = """CASE
    WHEN status IN (%s, %s) OR suppressed_here <> %s OR suppressed_everywhere <> %s THEN 'suppressed'
    WHEN status = %s OR suppressed_here = %s OR suppressed_everywhere = %s OR subscription = 1 THEN 'unsubscribed'
    WHEN COALESCE(subscription, 0) <> 2 THEN 'not_subscribed'
    ELSE 'eligible' END"""
_REASON_PARAMS = [ContactStatus.BOUNCED, ContactStatus.COMPLAINED, Reason.UNSUBSCRIBE, Reason.UNSUBSCRIBE,
                  ContactStatus.UNSUBSCRIBED, Reason.UNSUBSCRIBE, Reason.UNSUBSCRIBE]  # fmt: skip


def _joined_facts(campaign: Campaign, now: datetime) -> tuple[str, list[Any]]:
    """PostgreSQL: the columns of ``_facts`` from hash joins instead of three index look-ups per
    candidate (about 2 CPU seconds for a million). Each join finds at most one row per contact:
    the suppressions are unique per workspace and address (and the operator's per address), the
    subscriptions are grouped by contact. With lists, the join with their subscriptions is also
    what makes a contact a candidate (``candidates``' subscription test)."""
    list_ids = list(campaign.lists.values_list("id", flat=True))
    contacts = Contact.objects.filter(workspace_id=campaign.workspace_id)
    if campaign.segment is not None:
        contacts = contacts.filter(compile_query(parse(campaign.segment.query), campaign.segment.workspace, now))
    elif not list_ids:
        contacts = contacts.none()
    base, base_params = (
        contacts.order_by().values_list("pk", "email", "name", "status", "email_key").query.sql_with_params()
    )
    state = "MAX(CASE WHEN s.status = %s THEN 2 WHEN s.status = %s THEN 1 ELSE 0 END)"  # as in _facts
    state_params: list[Any] = [SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNSUBSCRIBED]
    if list_ids:  # the lists are the workspace's: this reads only its subscriptions
        subscriptions = (
            f"SELECT s.contact_id, {state} AS state FROM {table(Subscription)} s "  # noqa: S608
            f"WHERE s.contact_list_id IN ({', '.join('%s' for _ in list_ids)}) GROUP BY s.contact_id"
        )
        subscription_params = [*state_params, *list_ids]
    else:
        subscriptions = (
            f"SELECT s.contact_id, {state} AS state FROM {table(Subscription)} s JOIN {table(Contact)} sc "  # noqa: S608
            "ON sc.id = s.contact_id WHERE sc.workspace_id = %s GROUP BY s.contact_id"
        )
        subscription_params = [*state_params, campaign.workspace_id]
    suppressions = table(Suppression)
    return (
        "SELECT c.pk, c.email, COALESCE(c.name, ''), c.status, here.reason, everywhere.reason, sub.state "  # noqa: S608
        f"FROM ({base}) AS c (pk, email, name, status, email_key) "
        f"{'JOIN' if list_ids else 'LEFT JOIN'} ({subscriptions}) sub ON sub.contact_id = c.pk "
        f"LEFT JOIN {suppressions} here ON here.workspace_id = %s AND here.email = c.email_key "
        f"LEFT JOIN {suppressions} everywhere ON everywhere.workspace_id IS NULL AND everywhere.email = c.email_key",
        [*base_params, *subscription_params, campaign.workspace_id],
    )


def _reasons(campaign: Campaign, now: datetime) -> tuple[str, list[Any]]:
    """SQL of the candidates as (pk, email, display, reason). The facts are materialized first:
    inlined, each look-up would run once per mention in the CASE."""
    columns = ("pk", "email", "display", "status", "suppressed_here", "suppressed_everywhere", "subscription")
    if connection.vendor == "postgresql":
        sql, params = _joined_facts(campaign, now)
    else:  # SQLite has no hash join: a look-up per candidate in the indexes is its fastest way
        facts = _facts(campaign, now).order_by().values_list(*columns)
        sql, facts_params = facts.query.sql_with_params()
        params = list(facts_params)
    return (
        f"WITH facts ({', '.join(columns)}) "  # noqa: S608
        f"AS MATERIALIZED ({sql}) SELECT pk, email, display, {_REASON} AS reason FROM facts",
        [*params, *(str(value) for value in _REASON_PARAMS)],
    )


def freeze_audience(campaign: Campaign, now: datetime | None = None) -> Frozen:
    """Insert the campaign's recipients and record the counts on the campaign. Call it inside
    the transaction that moves the campaign to ``sending``; the unique (campaign, contact)
    constraint stops a second freeze.

    The exclusions are evaluated once per candidate, into a temporary table (SQLite) or a
    materialized CTE (PostgreSQL) that the counts and the recipients are then read from."""
    now = now or timezone.now()
    select, params = _reasons(campaign, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            insert, chosen = _recipient_insert(campaign, now)
            cursor.execute(
                f"WITH candidates AS MATERIALIZED ({select}), inserted AS ({insert} ORDER BY pk) "  # noqa: S608
                "SELECT reason, COUNT(*) FROM candidates GROUP BY reason",
                [*params, *chosen],
            )
            return _record(campaign, dict(cursor.fetchall()))
        pending = _table_name("openesp_freeze")
        insert, chosen = _recipient_insert(campaign, now, pending)
        cursor.execute(f"CREATE TEMPORARY TABLE {pending} (pk bigint, email varchar(320), reason varchar(16))")
        try:
            cursor.execute(
                f"INSERT INTO {pending} (pk, email, reason) SELECT pk, email, reason FROM ({select})",  # noqa: S608
                params,
            )
            cursor.execute(f"SELECT reason, COUNT(*) FROM {pending} GROUP BY reason")  # noqa: S608
            counts = dict(cursor.fetchall())
            cursor.execute(f"{insert} ORDER BY pk", chosen)
        finally:
            cursor.execute(f"DROP TABLE {pending}")
    return _record(campaign, counts)


def _recipient_insert(campaign: Campaign, now: datetime, source: str = "candidates") -> tuple[str, list[Any]]:
    """``INSERT`` the recipients ``SELECT``ed from the eligible rows of ``source``."""
    return (
        f"INSERT INTO {table(Recipient)} (campaign_id, contact_id, email, created_at) "  # noqa: S608
        f"SELECT %s, pk, email, %s FROM {source} WHERE reason = %s",
        [campaign.pk, connection.ops.adapt_datetimefield_value(now), ELIGIBLE],
    )


def _record(campaign: Campaign, counts: dict[str, int]) -> Frozen:
    audience = int(counts.get(ELIGIBLE, 0))
    excluded = {name: int(counts.get(name, 0)) for name in EXCLUSION_REASONS}
    fields = {
        "audience": audience,
        "excluded_suppressed": excluded["suppressed"],
        "excluded_unsubscribed": excluded["unsubscribed"],
        "excluded_not_subscribed": excluded["not_subscribed"],
        # Nobody invited yet: ``campaigns.invitations`` queues them from here, in chunks.
        "uninvited": audience,
        "invited_through": 0,
    }
    Campaign.objects.filter(pk=campaign.pk).update(**fields)
    for name, value in fields.items():
        setattr(campaign, name, value)
    return Frozen(audience, excluded)


def _table_name(prefix: str) -> str:
    # A name of its own per call: a temporary table lives as long as the connection (SQLite).
    return f"{prefix}_{secrets.token_hex(6)}"

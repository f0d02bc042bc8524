"""Applying a batch of checked rows to a workspace.

One batch is a few thousand records: the existing contacts, subscriptions and suppressions of
its addresses are read with one query each, and the changes are written with multi-row
statements. Rows that would change nothing write nothing, so importing a file twice changes
nothing the second time. A value equal to the export's text of a stored typed attribute
(``3``, ``true``) counts as that value, so openesp's own export re-imports without changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.db import connection
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.imports.check import Plan, Row
from openesp.audience.imports.jobs import ListDeleted
from openesp.audience.imports.sql import DriverCursor, insert_rows, select_in
from openesp.audience.models import (
    ConsentAction,
    ConsentSource,
    ContactList,
    ContactStatus,
    ImportMode,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from openesp.audience.suppressions import suppress_many

# --- applying a batch --------------------------------------------------------------------------


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (row, reason, raw)

    def skip(self, row: int, reason: str, raw: str) -> None:
        self.skipped += 1
        self.problems.append((row, reason[:300], raw))


def _as_exported(value: object) -> object:
    """A stored attribute as openesp's export writes it: a CSV value equal to that is the same
    value (``3``, ``true``), and the stored type stays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _json(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}


# Plain strings, looked up once: enum members cost an attribute lookup each, a million times.
_ACTIVE = ContactStatus.ACTIVE.value
_SUBSCRIBED = SubscriptionStatus.SUBSCRIBED.value
_IMPORT = ConsentSource.IMPORT.value  # also the ledger action (ConsentAction.IMPORT)
assert ConsentAction.IMPORT.value == _IMPORT
_json_text = json.JSONEncoder().encode  # what json.dumps does with its defaults, without the call

# An old export must not bring back a person who had themselves erased (decision 004); they
# come back by subscribing again, or by being added by hand.
ERASED = "erased earlier at the person's request (GDPR); add them by hand if they have consented again"

_by_key = attrgetter("key")

_CONTACT = "audience_contact"
_SUBSCRIPTION = "audience_subscription"
_CONSENT = "audience_consentrecord"
_SUPPRESSION = "audience_suppression"
_PROBLEM = "audience_importproblem"
_WORKSPACE = Workspace._meta.db_table
_LIST = ContactList._meta.db_table
_USER = User._meta.db_table


class Applier:
    """Writes one batch of checked rows for a plan; call inside the batch's transaction."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.actor_id = plan.actor_id
        self.json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"

    def apply(self, rows: list[Row], outcome: Outcome) -> None:
        keys = [r.key for r in rows]
        if not keys:
            return
        self._hold_parents()
        contacts = {
            row[1]: row
            for row in select_in(
                f"SELECT id, email_key, name, language, time_zone, attributes, status FROM {_CONTACT} "  # noqa: S608
                "WHERE workspace_id = %s AND email_key IN ({in_})",
                [self.plan.workspace_id],
                keys,
            )
        }
        if self.plan.mode == ImportMode.SUBSCRIBE:
            self._subscribe(rows, contacts, outcome)
        elif self.plan.mode == ImportMode.UPDATE:
            self._update(rows, contacts, outcome)
        else:
            self._unsubscribe(rows, contacts, outcome)

    # -- shared pieces

    def _hold_parents(self) -> None:
        """Make sure the workspace, the list and the actor the batch's ledger rows name exist
        until it commits: the ledger's references to them have no database constraint
        (decision 023), so this takes, once a batch, the lock that its foreign-key checks took
        for every row (``FOR KEY SHARE``: deleting them waits for the commit). On SQLite the
        transaction holds the database's write lock from its start. ListDeleted if the list is
        gone; an actor deleted meanwhile is named by nobody from then on, as ``SET_NULL`` does."""
        lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
        p = self.plan
        with DriverCursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT id FROM {_WORKSPACE} WHERE id = %s{lock}), "  # noqa: S608
                f"(SELECT id FROM {_LIST} WHERE id = %s{lock}), "
                f"(SELECT id FROM {_USER} WHERE id = %s{lock})",
                [p.workspace_id, p.list_id, self.actor_id],
            )
            workspace, contact_list, actor = cursor.fetchall()[0]
        if workspace is None or contact_list is None:
            raise ListDeleted
        self.actor_id = actor

    def _now(self) -> Any:
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def _subscriptions(self, contact_ids: list[int]) -> dict[int, tuple[int, str]]:
        rows = select_in(
            f"SELECT contact_id, id, status FROM {_SUBSCRIPTION} "  # noqa: S608
            "WHERE contact_list_id = %s AND contact_id IN ({in_})",
            [self.plan.list_id],
            contact_ids,
            array="bigint",
        )
        return {contact_id: (sid, status) for contact_id, sid, status in rows}

    def _changes(self, row: Row, contact: tuple[Any, ...]) -> dict[str, Any]:
        """The fields of an existing contact the row changes (``attributes`` merged)."""
        _id, _key, name, language, time_zone, attributes, _status = contact
        now = {"name": name, "language": language, "time_zone": time_zone}
        changes: dict[str, Any] = {k: v for k, v in row.profile.items() if now[k] != v}
        if row.attributes:
            present = _json(attributes)
            changed = {k: v for k, v in row.attributes.items() if _as_exported(present.get(k)) != v}
            if changed:
                changes["attributes"] = {**present, **changed}
        return changes

    def _update_contacts(self, updates: list[tuple[int, dict[str, Any]]], stamp: Any) -> None:
        """One UPDATE per contact that changed, grouped by the columns changed."""
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for contact_id, changes in updates:
            columns = tuple(sorted(changes))
            values = [json.dumps(changes[c]) if c == "attributes" else changes[c] for c in columns]
            groups.setdefault(columns, []).append([*values, stamp, contact_id])
        with DriverCursor() as cursor:
            for columns, params in groups.items():
                sets = ", ".join(f"{c} = {self.json_param if c == 'attributes' else '%s'}" for c in columns)
                cursor.executemany(
                    f"UPDATE {_CONTACT} SET {sets}, updated_at = %s WHERE id = %s",  # noqa: S608
                    params,
                )

    def _ledger(self, entries: list[tuple[int, str, str, bool]], stamp: Any) -> None:
        """Consent records: (contact id, address hash, action, about the list)."""
        p = self.plan
        insert_rows(
            _CONSENT,
            [
                "workspace_id", "contact_id", "email_hash", "action", "contact_list_id", "list_name", "topic_name",
                "source", "source_detail", "consent_text_version", "actor_id", "created_at",
            ],
            [
                [
                    p.workspace_id, contact_id, hashed, action, p.list_id if on_list else None,
                    p.list_name if on_list else "", "", _IMPORT, p.consent_detail, p.consent_text_version,
                    self.actor_id, stamp,
                ]
                for contact_id, hashed, action, on_list in entries
            ],
        )  # fmt: skip

    def _suppressed(self, keys: list[str], *, including_global: bool) -> set[str]:
        scope = "(workspace_id = %s OR workspace_id IS NULL)" if including_global else "workspace_id = %s"
        return {
            key
            for (key,) in select_in(
                f"SELECT email FROM {_SUPPRESSION} WHERE {scope} AND email IN ({{in_}})",  # noqa: S608
                [self.plan.workspace_id],
                keys,
            )
        }

    def _erased(self, hashes: list[str]) -> set[str]:
        """The hashes among ``hashes`` of addresses erased from the workspace (GDPR)."""
        if not hashes:
            return set()
        return {
            hashed
            for (hashed,) in select_in(
                f"SELECT email_hash FROM {_CONSENT} WHERE workspace_id = %s AND action = %s "  # noqa: S608
                "AND email_hash IN ({in_})",
                [self.plan.workspace_id, ConsentAction.ERASE.value],
                hashes,
            )
        }

    # -- modes

    def _subscribe(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        p = self.plan
        stamp = self._now()
        hashes = {r.key: r.hash for r in rows}
        suppressed = self._suppressed([r.key for r in rows], including_global=True)
        erased = self._erased([r.hash for r in rows if r.key not in contacts])
        subscriptions = self._subscriptions([c[0] for c in contacts.values()])
        new_rows: list[Row] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        new_subscriptions: list[tuple[int, str]] = []  # (contact id, key)
        for row in rows:
            if row.key in suppressed:
                outcome.skip(row.row, "suppressed", row.raw)
                continue
            contact = contacts.get(row.key)
            if contact is None:
                if row.hash in erased:
                    outcome.skip(row.row, ERASED, row.raw)
                else:
                    new_rows.append(row)
                continue
            contact_id, status = contact[0], contact[6]
            if status != ContactStatus.ACTIVE:
                outcome.skip(row.row, f"the contact's status is {status}", row.raw)
                continue
            subscription = subscriptions.get(contact_id)
            if subscription is not None and subscription[1] == SubscriptionStatus.UNSUBSCRIBED:
                outcome.skip(row.row, "unsubscribed from this list earlier", row.raw)
                continue
            changes = self._changes(row, contact)
            if changes:
                updates.append((contact_id, changes))
            # A pending subscription (double opt-in) stays pending: the person has not confirmed,
            # and an import is not their word.
            if subscription is None:
                new_subscriptions.append((contact_id, row.key))
            if changes or subscription is None:
                outcome.updated += 1
        # In key order: the unique (workspace, email_key) index takes them leaf by leaf.
        new_rows.sort(key=_by_key)
        columns = ["workspace_id", "email", "email_key", "name", "language", "time_zone", "attributes", "status",
                   "created_at", "updated_at"]  # fmt: skip
        values = [
            [p.workspace_id, r.email, r.key, r.profile.get("name", ""), r.profile.get("language", ""),
             r.profile.get("time_zone", ""), _json_text(r.attributes), _ACTIVE, stamp, stamp]
            for r in new_rows
        ]  # fmt: skip
        created = insert_rows(_CONTACT, columns, values, returning="id, email_key")
        outcome.created += len(created)
        new_subscriptions += [(contact_id, key) for contact_id, key in created]
        self._update_contacts(updates, stamp)
        insert_rows(
            _SUBSCRIPTION,
            ["contact_id", "contact_list_id", "status", "created_at", "updated_at", "confirmed_at"],
            [[cid, p.list_id, _SUBSCRIBED, stamp, stamp, stamp] for cid, _k in new_subscriptions],
        )
        # The importer attests the consent: one ledger row per subscription it makes.
        self._ledger([(cid, hashes[key], _IMPORT, True) for cid, key in new_subscriptions], stamp)

    def _update(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        updates: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            contact = contacts.get(row.key)
            if contact is None:
                outcome.skip(row.row, "not a contact", row.raw)
                continue
            changes = self._changes(row, contact)
            if changes:
                updates.append((contact[0], changes))
                outcome.updated += 1
        self._update_contacts(updates, self._now())

    def _unsubscribe(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        p = self.plan
        moment = timezone.now()  # the ORM's writer takes the aware time; the raw SQL below its adapted form
        stamp = connection.ops.adapt_datetimefield_value(moment)
        suppressed = self._suppressed([r.key for r in rows], including_global=False)
        subscriptions = self._subscriptions([c[0] for c in contacts.values()])
        ended: list[int] = []
        status_changed: list[int] = []
        ledger: list[tuple[int, str, str, bool]] = []
        new_suppressions: list[str] = []
        for row in rows:
            contact = contacts.get(row.key)
            newly_suppressed = row.key not in suppressed
            if newly_suppressed:
                new_suppressions.append(row.key)
                suppressed.add(row.key)
            if contact is None:
                if newly_suppressed:
                    outcome.created += 1
                continue
            contact_id, status = contact[0], contact[6]
            subscription = subscriptions.get(contact_id)
            ends = subscription is not None and subscription[1] != SubscriptionStatus.UNSUBSCRIBED
            if ends:
                ended.append(subscription[0])  # type: ignore[index]
            if status == ContactStatus.ACTIVE:
                status_changed.append(contact_id)
            if ends or status == ContactStatus.ACTIVE:
                ledger.append((contact_id, row.hash, ConsentAction.UNSUBSCRIBE.value, ends))
            if ends or status == ContactStatus.ACTIVE or newly_suppressed:
                outcome.updated += 1
        with DriverCursor() as cursor:
            if ended:
                cursor.executemany(
                    f"UPDATE {_SUBSCRIPTION} SET status = %s, updated_at = %s, unsubscribed_at = %s "  # noqa: S608
                    "WHERE id = %s",
                    [[SubscriptionStatus.UNSUBSCRIBED.value, stamp, stamp, sid] for sid in ended],
                )
            if status_changed:
                cursor.executemany(
                    f"UPDATE {_CONTACT} SET status = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                    [[ContactStatus.UNSUBSCRIBED.value, stamp, cid] for cid in status_changed],
                )
        # The one writer of suppressions, so each gets its audit row as from every other path.
        suppress_many(
            Suppression(
                workspace_id=p.workspace_id,
                email=key,
                reason=SuppressionReason.UNSUBSCRIBE,
                detail=p.consent_detail,
                source="import",
                created_at=moment,
                created_by_id=self.actor_id,
            )
            for key in new_suppressions
        )
        self._ledger(ledger, stamp)


def write_problems(job_id: int, problems: list[tuple[int, str, str]]) -> None:
    insert_rows(
        _PROBLEM, ["job_id", "row_number", "reason", "raw"], [[job_id, r, why, raw] for r, why, raw in problems]
    )

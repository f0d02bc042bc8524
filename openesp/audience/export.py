"""A workspace's contacts as a CSV file, streamed a batch at a time.

Every cell goes through ``lib.downloads.safe_cell``, so no spreadsheet runs one as a formula;
the importer takes that guard off again (``imports.check``), so an export re-imports unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openesp.accounts.models import Workspace
from openesp.audience.attribute_keys import fold, workspace_spellings
from openesp.audience.models import Contact, ContactList, Subscription, SubscriptionStatus
from openesp.lib.downloads import line_writer, safe_cell


def export_contacts_csv(workspace: Workspace) -> Iterator[str]:
    """The workspace's contacts as CSV lines, streamed: email, name, language, time_zone, status,
    lists (subscribed list names, ``;``-separated), then one ``attributes.<name>`` column each."""
    contacts = Contact.objects.filter(workspace=workspace)
    # One column per attribute, named in the workspace's spelling. Every writer stores that
    # spelling already (``attribute_keys``); folding here too keeps a key written around them
    # from becoming a second column.
    names: set[str] = set()
    for attributes in contacts.values_list("attributes", flat=True).iterator(chunk_size=2000):
        names.update(attributes or {})
    columns: dict[str, str] = {fold(n): n for n in sorted(names, reverse=True)}  # the first in code-point order
    columns |= {f: n for f, n in workspace_spellings(workspace.pk).items() if f in columns}
    attribute_names = sorted(columns.values())
    writer = line_writer()
    header = ["email", "name", "language", "time_zone", "status", "lists"]
    yield writer.writerow([safe_cell(h) for h in header + [f"attributes.{n}" for n in attribute_names]])
    lists = dict(ContactList.objects.filter(workspace=workspace).values_list("id", "name"))
    batch: list[Contact] = []
    for contact in contacts.order_by("id").iterator(chunk_size=2000):
        batch.append(contact)
        if len(batch) == 2000:
            yield from _rows(writer, batch, lists, attribute_names)
            batch = []
    yield from _rows(writer, batch, lists, attribute_names)


def _rows(writer: Any, batch: list[Contact], lists: dict[int, str], attribute_names: list[str]) -> Iterator[str]:
    subscribed: dict[int, list[str]] = {}
    for contact_id, list_id in Subscription.objects.filter(
        contact__in=[c.pk for c in batch], status=SubscriptionStatus.SUBSCRIBED
    ).values_list("contact_id", "contact_list_id"):
        subscribed.setdefault(contact_id, []).append(lists[list_id])
    known = frozenset(attribute_names)
    for c in batch:
        row = [c.email, c.name, c.language, c.time_zone, c.status, ";".join(sorted(subscribed.get(c.pk, [])))]
        row += _values(c.attributes or {}, attribute_names, known)
        yield writer.writerow([safe_cell(v) for v in row])


def _values(attributes: dict[str, Any], names: list[str], known: frozenset[str]) -> list[Any]:
    """The contact's value for each column. A key in another spelling than the column's (written
    around ``attribute_keys``) still lands in it; the value under the column's spelling wins."""
    if known.issuperset(attributes):  # every writer's keys: the quick way
        return [attributes.get(n) for n in names]
    by_fold: dict[str, Any] = {}
    for key in sorted(attributes, key=lambda k: k not in known):
        by_fold.setdefault(fold(key), attributes[key])
    return [by_fold.get(fold(n)) for n in names]

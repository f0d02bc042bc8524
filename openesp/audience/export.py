"""A workspace's contacts as a CSV file, streamed a batch at a time.

Every cell goes through ``lib.downloads.safe_cell``, so no spreadsheet runs one as a formula;
the importer takes that guard off again (``imports.check``), so an export re-imports unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openesp.accounts.models import Workspace
from openesp.audience.models import Contact, ContactList, Subscription, SubscriptionStatus
from openesp.lib.downloads import line_writer, safe_cell


def export_contacts_csv(workspace: Workspace) -> Iterator[str]:
    """The workspace's contacts as CSV lines, streamed: email, name, language, time_zone, status,
    lists (subscribed list names, ``;``-separated), then one ``attributes.<name>`` column each."""
    contacts = Contact.objects.filter(workspace=workspace)
    names: set[str] = set()
    for attributes in contacts.values_list("attributes", flat=True).iterator(chunk_size=2000):
        names.update(attributes or {})
    attribute_names = sorted(names)
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
    for c in batch:
        row = [c.email, c.name, c.language, c.time_zone, c.status, ";".join(sorted(subscribed.get(c.pk, [])))]
        row += [c.attributes.get(n) for n in attribute_names]
        yield writer.writerow([safe_cell(v) for v in row])

"""What delivery learns about an address reaches the contact: a hard bounce or a complaint sets
the status of the workspace's contact with that address.

Callers run these inside the transaction that records the bounce or complaint and its
suppression, so the contact's status never disagrees with the suppression list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from openesp.audience.models import Contact, ContactStatus, Suppression, SuppressionReason
from openesp.audience.suppressions import suppress
from openesp.messaging.models import Event, EventType

# A complaint is the stronger statement (the person asked not to be mailed): a later bounce
# does not overwrite it, while a complaint overwrites a bounce.
_KEEPS: dict[str, list[str]] = {
    ContactStatus.BOUNCED: [ContactStatus.BOUNCED, ContactStatus.COMPLAINED],
    ContactStatus.COMPLAINED: [ContactStatus.COMPLAINED],
}


def mark_contacts(addresses: Iterable[tuple[int, str]], status: str, now: datetime | None = None) -> int:
    """Give the contacts with these ``(workspace id, address)`` the status ``bounced`` or
    ``complained``; the number of contacts changed. One UPDATE per workspace."""
    assert status in _KEEPS
    by_workspace: dict[int, set[str]] = defaultdict(set)
    for workspace_id, email in addresses:
        by_workspace[workspace_id].add(email.lower())
    changed = 0
    for workspace_id, keys in by_workspace.items():
        changed += (
            Contact.objects.filter(workspace_id=workspace_id, email_key__in=keys)
            .exclude(status__in=_KEEPS[status])
            .update(status=status, updated_at=now or timezone.now())
        )
    return changed


@transaction.atomic
def complaint_received(event: Event) -> Suppression | None:
    """A recipient reported a message as spam: suppress the address in the message's workspace
    (reason ``complaint``, with the event as its source) and mark its contact ``complained``.

    For the provider webhooks and feedback loops that record ``complained`` events. Mail
    without a workspace has no suppression list or contacts to change: None.
    """
    assert event.type == EventType.COMPLAINED
    message = event.message
    if message.workspace_id is None:
        return None
    key = message.to_email.lower()
    suppression, _added = suppress(
        message.workspace,
        key,
        SuppressionReason.COMPLAINT,
        source="complaint",
        source_event=event,
        audit_detail=f"message {message.public_id}",
        # An unsubscription lets transactional mail through; a complaint stops everything.
        replaces=[SuppressionReason.UNSUBSCRIBE],
        check="as_sent",
    )
    mark_contacts([(message.workspace_id, key)], ContactStatus.COMPLAINED)
    return suppression

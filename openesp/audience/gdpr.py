"""A contact's rights over their data (GDPR): everything held about them, and erasure.

The export (Art. 15 and 20) gathers the contact, its subscriptions and categories, its consent
records, the suppressions of its address and the messages sent to it; erasure (Art. 17) leaves
only a hashed tombstone in the ledger and the suppressions. Callers have looked the contact up
through the tenant (``audience.access``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from openesp.accounts.models import User
from openesp.audience.categories import categories_of
from openesp.audience.consent import Consent, record_erasure
from openesp.audience.models import ConsentRecord, ConsentSource, Contact, Suppression
from openesp.messaging.models import Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_contact_data(contact: Contact) -> dict[str, Any]:
    """Everything the workspace holds about the contact (GDPR Art. 15 and 20), JSON-ready."""
    subscriptions = contact.subscriptions.select_related("contact_list").order_by("created_at", "id")
    records = contact.consent_records.order_by("created_at", "id")
    messages = Message.objects.filter(workspace_id=contact.workspace_id, to_email__iexact=contact.email).order_by(
        "created_at", "id"
    )
    suppressions = Suppression.objects.filter(workspace_id=contact.workspace_id, email=contact.email_key)
    return {
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "name": contact.name,
            "language": contact.language,
            "time_zone": contact.time_zone,
            "status": contact.status,
            "attributes": contact.attributes,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "subscriptions": [
            {
                "list_id": s.contact_list_id,
                "list": s.contact_list.name,
                "status": s.status,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
            }
            for s in subscriptions
        ],
        "categories": [t.name for t in categories_of(contact)],
        "consent_records": [
            {
                "action": r.action,
                "list": r.list_name or None,
                "category": r.topic_name or None,
                "source": r.source,
                "source_detail": r.source_detail,
                "consent_text_version": r.consent_text_version,
                "ip": r.ip,
                "created_at": _iso(r.created_at),
            }
            for r in records
        ],
        "suppressions": [
            {"reason": s.reason, "source": s.source, "created_at": _iso(s.created_at)} for s in suppressions
        ],
        "messages": [
            {
                "id": str(m.public_id),
                "from": m.from_email,
                "subject": m.subject,
                "category": m.category,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }


@transaction.atomic
def erase_contact(contact: Contact, actor: User | None, consent: Consent | None = None) -> ConsentRecord:
    """Erase a contact (GDPR Art. 17): the contact, its subscriptions and its consent records.

    What stays is one ``erase`` ledger row holding only a keyed hash of the address (see
    docs/decisions/004-contact-erasure.md), and any suppression of the address, so that an
    erased person who asked not to be mailed is still not mailed.
    """
    consent = consent or Consent(source=ConsentSource.ADMIN, actor=actor)
    tombstone = record_erasure(contact, actor, consent)
    contact.consent_records.all().delete()
    contact.delete()  # subscriptions go with it
    return tombstone

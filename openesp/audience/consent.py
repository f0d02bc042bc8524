"""The consent ledger (GDPR Art. 7(1)): how a change of a subscription came about, written as
one append-only ``ConsentRecord`` per change.

Every audience action that subscribes, confirms, unsubscribes or erases records here; the
importer writes the same rows in bulk. ``email_hash`` names an address without holding it, so
the ``erase`` row an erasure leaves behind identifies nobody.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

from openesp.accounts.models import User
from openesp.audience.models import ConsentAction, ConsentRecord, ConsentSource, Contact, ContactList, Topic


@dataclass(frozen=True)
class Consent:
    """How a change came about, for the ledger."""

    source: str = ConsentSource.API
    detail: str = ""
    text_version: str = ""
    ip: str | None = None
    actor: User | None = None


def email_hash(workspace_id: int, email_key: str) -> str:
    """A keyed hash of an address in a workspace: recognisable again, unreadable without the key."""
    message = f"{workspace_id}:{email_key}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def record_consent(
    contact: Contact,
    action: str,
    contact_list: ContactList | None,
    consent: Consent,
    *,
    topic: Topic | None = None,
) -> ConsentRecord:
    """One ledger row about ``contact`` (and the list or the category it concerns, if any)."""
    return ConsentRecord.objects.create(
        workspace_id=contact.workspace_id,
        contact=contact,
        email_hash=email_hash(contact.workspace_id, contact.email_key),
        action=action,
        contact_list=contact_list,
        list_name=contact_list.name if contact_list else "",
        topic=topic,
        topic_name=topic.name if topic else "",
        source=consent.source,
        source_detail=consent.detail[:200],
        consent_text_version=consent.text_version[:64],
        ip=consent.ip,
        actor=consent.actor,
    )


def record_erasure(contact: Contact, actor: User | None, consent: Consent) -> ConsentRecord:
    """The ``erase`` row that stays when a contact is erased: no contact, only the keyed hash."""
    return ConsentRecord.objects.create(
        workspace_id=contact.workspace_id,
        contact=None,
        email_hash=email_hash(contact.workspace_id, contact.email_key),
        action=ConsentAction.ERASE,
        source=consent.source,
        source_detail=consent.detail[:200],
        actor=actor,
    )

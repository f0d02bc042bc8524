"""Actions the web UI and the operator's CLI need beyond ``audience.actions``, built on those.

Like them, they trust the workspace their arguments come from: callers have authorised the
caller and looked the objects up through the tenant.
"""

from __future__ import annotations

from django.db import transaction

from openesp.audience import actions
from openesp.audience.actions import ContactExists
from openesp.audience.consent import Consent
from openesp.audience.models import ContactList, Subscription


@transaction.atomic
def subscribe_address(contact_list: ContactList, email: str, consent: Consent) -> Subscription:
    """Subscribe an address to a list: its contact in the list's workspace, made if there is none."""
    try:
        contact = actions.create_contact(contact_list.workspace, email, consent=consent)
    except ContactExists as exc:
        contact = exc.contact
    return actions.subscribe(contact, contact_list, consent)


def delete_list(contact_list: ContactList) -> None:
    """Delete a list and its subscriptions. The contacts stay, and so does the consent ledger:
    its rows keep the list's name (``list_name``) for when the list is gone."""
    contact_list.delete()

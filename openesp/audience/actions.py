"""Named actions on a workspace's contacts, lists and subscriptions. The API, the CLI, the UI,
the importer and the preference centre call these; they validate, change state, and write the
consent ledger. Beside them: categories (``categories``), a contact's data rights
(``gdpr``: export and erasure), the CSV export (``export``) and suppressions (``suppressions``).

Callers have already authorised the caller and looked the objects up through the tenant;
these functions trust their arguments' workspace, but never mix workspaces.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.utils import timezone
from email_validator import EmailNotValidError

from openesp.accounts.models import Workspace
from openesp.audience import attribute_keys, doubleoptin
from openesp.audience.consent import Consent, record_consent
from openesp.audience.models import (
    ConsentAction,
    Contact,
    ContactList,
    ContactStatus,
    Segment,
    Subscription,
    SubscriptionStatus,
    Topic,
)
from openesp.lib.addresses import normalized_address
from openesp.lib.errors import FieldProblem, InvalidInput

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_LENGTH = 1000
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" lets a final newline through
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
# available_timezones() reads the tz database from disk on every call; an import calls it a lot.
time_zones = functools.cache(available_timezones)


class ContactExists(Exception):
    """The workspace has a contact with this address already; ``contact`` is that contact."""

    def __init__(self, contact: Contact) -> None:
        self.contact = contact
        super().__init__(f"a contact with this address exists already (id {contact.pk})")


# --- validation --------------------------------------------------------------------------------


def normalise_email(raw: object, field: str = "email") -> tuple[str, str]:
    """``(email, email_key)``: the address with its domain lower-cased, and all lower-case."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput.one(field, "is required")
    try:
        email = normalized_address(raw.strip())
    except EmailNotValidError as exc:
        raise InvalidInput.one(field, str(exc)) from None
    return email, email.lower()


def _clean_attributes(raw: object, *, allow_null: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput.one("attributes", "must be an object of names to values")
    problems: list[FieldProblem] = []
    for key, value in raw.items():
        field = f"attributes.{key}"
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            problems.append(FieldProblem(field, "names are letters, digits, _ and -, at most 64, not a digit first"))
        elif value is None and allow_null:
            continue  # removes the attribute
        elif isinstance(value, bool | int):
            continue
        elif isinstance(value, float):
            if not math.isfinite(value):
                problems.append(FieldProblem(field, "must be a finite number"))
        elif isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_LENGTH:
                problems.append(FieldProblem(field, f"is longer than {MAX_ATTRIBUTE_LENGTH} characters"))
        else:
            problems.append(
                FieldProblem(field, "must be a string, a number or a boolean (dates as ISO 8601 strings), not nested")
            )
    if problems:
        raise InvalidInput(problems)
    attribute_keys.check_distinct(raw)
    return dict(raw)


def _clean_profile(data: dict[str, Any]) -> dict[str, Any]:
    """The profile fields present in ``data``, validated; problems for all of them at once."""
    problems: list[FieldProblem] = []
    clean: dict[str, Any] = {}
    if "name" in data:
        name = data["name"] or ""
        if not isinstance(name, str) or len(name) > 200 or not name.isprintable():
            problems.append(FieldProblem("name", "must be printable text of at most 200 characters"))
        else:
            clean["name"] = name.strip()
    if "language" in data:
        language = data["language"] or ""
        if not isinstance(language, str) or (language and (len(language) > 35 or not LANGUAGE_TAG.match(language))):
            problems.append(FieldProblem("language", "must be a language tag such as en, sv or pt-BR"))
        else:
            clean["language"] = language
    if "time_zone" in data:
        zone = data["time_zone"] or ""
        if not isinstance(zone, str) or (zone and zone not in time_zones()):
            problems.append(FieldProblem("time_zone", "must be an IANA time zone such as Europe/Stockholm"))
        else:
            clean["time_zone"] = zone
    if "status" in data:
        if data["status"] not in ContactStatus.values:
            problems.append(FieldProblem("status", f"must be one of {', '.join(ContactStatus.values)}"))
        else:
            clean["status"] = data["status"]
    if problems:
        raise InvalidInput(problems)
    return clean


# --- contacts ----------------------------------------------------------------------------------


def create_contact(
    workspace: Workspace,
    email: str,
    *,
    name: str = "",
    language: str = "",
    time_zone: str = "",
    attributes: dict[str, Any] | None = None,
    lists: Iterable[ContactList] = (),
    consent: Consent = Consent(),
) -> Contact:
    """A new contact, subscribed to ``lists``. ContactExists when the address is taken."""
    address, key = normalise_email(email)
    profile = _clean_profile({"name": name, "language": language, "time_zone": time_zone})
    clean_attributes = _clean_attributes(attributes or {}, allow_null=False)
    lists = list(lists)
    assert all(cl.workspace_id == workspace.pk for cl in lists)
    existing = Contact.objects.filter(workspace=workspace, email_key=key).first()
    if existing is not None:
        raise ContactExists(existing)
    try:
        with transaction.atomic():
            # Keys in the workspace's spelling (registered in this transaction: none if refused).
            clean_attributes = attribute_keys.canonical(workspace.pk, clean_attributes)
            contact = Contact.objects.create(
                workspace=workspace, email=address, email_key=key, attributes=clean_attributes, **profile
            )
            for contact_list in lists:
                subscribe(contact, contact_list, consent)
    except IntegrityError:
        # Created by a concurrent request since we looked.
        existing = Contact.objects.filter(workspace=workspace, email_key=key).first()
        if existing is None:
            raise
        raise ContactExists(existing) from None
    return contact


def update_contact(contact: Contact, data: dict[str, Any]) -> Contact:
    """Change the fields present in ``data``; ``attributes`` merge, and a null value removes one."""
    changes = _clean_profile(data)
    if "email" in data:
        address, key = normalise_email(data["email"])
        taken = Contact.objects.filter(workspace_id=contact.workspace_id, email_key=key).exclude(pk=contact.pk).first()
        if taken is not None:
            raise ContactExists(taken)
        changes.update(email=address, email_key=key)
    attributes = _clean_attributes(data["attributes"], allow_null=True) if "attributes" in data else None
    for field, value in changes.items():
        setattr(contact, field, value)
    contact.updated_at = timezone.now()
    try:
        with transaction.atomic():
            if attributes is not None:
                # In the workspace's spelling, so that ``country`` changes (or removes) ``Country``.
                merged = {**contact.attributes, **attribute_keys.canonical(contact.workspace_id, attributes)}
                contact.attributes = {k: v for k, v in merged.items() if v is not None}
            contact.save()
    except IntegrityError:
        raise InvalidInput.one("email", "another contact has this address") from None
    return contact


# --- lists and subscriptions -------------------------------------------------------------------


def create_list(workspace: Workspace, name: str, *, double_opt_in: bool = False) -> ContactList:
    clean = unique_name(ContactList, workspace, name, what="list")
    return ContactList.objects.create(workspace=workspace, name=clean, double_opt_in=double_opt_in)


def update_list(
    contact_list: ContactList, *, name: str | None = None, double_opt_in: bool | None = None
) -> ContactList:
    if name is not None:
        contact_list.name = unique_name(ContactList, contact_list.workspace, name, what="list", exclude=contact_list.pk)
    if double_opt_in is not None:
        contact_list.double_opt_in = double_opt_in
    contact_list.save()
    return contact_list


def delete_list(contact_list: ContactList) -> None:
    """Delete a list and its subscriptions. The contacts stay, and so does the consent ledger:
    its rows keep the list's name (``list_name``) for when the list is gone."""
    contact_list.delete()


def unique_name(
    model: type[ContactList | Topic | Segment],
    workspace: Workspace,
    name: object,
    *,
    what: str,
    exclude: int | None = None,
    printable: bool = False,
) -> str:
    """The name of a list, category or segment, stripped: 1 to 200 characters (``printable``:
    printable ones) and not taken by another ``model`` of the workspace (``exclude``: this one)."""
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > 200 or (printable and not clean.isprintable()):
        reason = "must be 1 to 200 printable characters" if printable else "must be 1 to 200 characters"
        raise InvalidInput.one("name", reason)
    others = model.objects.filter(workspace=workspace, name=clean)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise InvalidInput.one("name", f"the workspace has a {what} of this name already")
    return clean


@transaction.atomic
def subscribe(contact: Contact, contact_list: ContactList, consent: Consent = Consent()) -> Subscription:
    """Subscribe, or leave pending on a double opt-in list; the same again changes nothing.

    A subscription that becomes pending gets its confirmation mail queued here, in this
    transaction (``doubleoptin.send_confirmation``), so that no caller can forget it and a
    rollback takes the mail with it. The importer writes subscriptions on its own and sends none.
    """
    assert contact.workspace_id == contact_list.workspace_id
    now = timezone.now()
    target = SubscriptionStatus.PENDING if contact_list.double_opt_in else SubscriptionStatus.SUBSCRIBED
    subscription, created = Subscription.objects.select_for_update().get_or_create(
        contact=contact, contact_list=contact_list, defaults={"status": target, "created_at": now, "updated_at": now}
    )
    if not created:
        if subscription.status == SubscriptionStatus.SUBSCRIBED or subscription.status == target:
            return subscription
        subscription.status = target
        subscription.updated_at = now
        subscription.unsubscribed_at = None
    subscription.confirmed_at = now if target == SubscriptionStatus.SUBSCRIBED else None
    subscription.save()
    record_consent(contact, ConsentAction.SUBSCRIBE, contact_list, consent)
    if target == SubscriptionStatus.PENDING:
        doubleoptin.send_confirmation(subscription)
    return subscription


@transaction.atomic
def subscribe_address(contact_list: ContactList, email: str, consent: Consent) -> Subscription:
    """Subscribe an address to a list: its contact in the list's workspace, made if there is none."""
    try:
        contact = create_contact(contact_list.workspace, email, consent=consent)
    except ContactExists as exc:
        contact = exc.contact
    return subscribe(contact, contact_list, consent)


@transaction.atomic
def unsubscribe(contact: Contact, contact_list: ContactList, consent: Consent = Consent()) -> Subscription | None:
    """Unsubscribe from one list; None when the contact was never on it. Idempotent."""
    subscription = Subscription.objects.select_for_update().filter(contact=contact, contact_list=contact_list).first()
    if subscription is None:
        return None
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        now = timezone.now()
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = subscription.updated_at = now
        subscription.save()
        record_consent(contact, ConsentAction.UNSUBSCRIBE, contact_list, consent)
    return subscription

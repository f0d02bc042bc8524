"""Named actions on a workspace's audience. The API, the CLI, the UI and the preference centre
call these; they validate, change state, and write the consent ledger.

Callers have already authorised the caller and looked the objects up through the tenant;
these functions trust their arguments' workspace, but never mix workspaces.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.utils import timezone
from email_validator import EmailNotValidError, validate_email

from openesp.accounts.models import User, Workspace
from openesp.audience import doubleoptin
from openesp.audience.consent import Consent, record_consent, record_erasure
from openesp.audience.models import (
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Contact,
    ContactList,
    ContactStatus,
    ContactTopic,
    Segment,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Topic,
)
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.models import Message

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_LENGTH = 1000
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" lets a final newline through
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
# Cells a spreadsheet would read as a formula (or that hide one behind a control character).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\0", "\r")
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
        email = validate_email(raw.strip(), check_deliverability=False).normalized
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
    if "attributes" in data:
        merged = {**contact.attributes, **_clean_attributes(data["attributes"], allow_null=True)}
        changes["attributes"] = {k: v for k, v in merged.items() if v is not None}
    for field, value in changes.items():
        setattr(contact, field, value)
    contact.updated_at = timezone.now()
    try:
        with transaction.atomic():
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


# --- categories (the ``Topic`` model) ----------------------------------------------------------

MAX_DESCRIPTION = 1000


def _category_description(description: object) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput.one("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    return description.strip()


def create_category(workspace: Workspace, name: str, *, description: str = "") -> Topic:
    clean = unique_name(Topic, workspace, name, what="category", printable=True)
    text = _category_description(description)
    try:
        with transaction.atomic():
            return Topic.objects.create(workspace=workspace, name=clean, description=text)
    except IntegrityError:  # made by a concurrent request since we looked
        raise InvalidInput.one("name", "the workspace has a category of this name already") from None


def update_category(topic: Topic, *, name: str | None = None, description: str | None = None) -> Topic:
    """Rename or describe a category. The ledger keeps the name each record was made under."""
    if name is not None:
        topic.name = unique_name(Topic, topic.workspace, name, what="category", exclude=topic.pk, printable=True)
    if description is not None:
        topic.description = _category_description(description)
    try:
        with transaction.atomic():
            topic.save()
    except IntegrityError:
        raise InvalidInput.one("name", "the workspace has a category of this name already") from None
    return topic


def delete_category(topic: Topic) -> None:
    """Delete a category and its subscriptions; consent records keep its name (``topic_name``)."""
    topic.delete()


@transaction.atomic
def subscribe_category(contact: Contact, topic: Topic, consent: Consent = Consent()) -> bool:
    """Subscribe a contact to a category: True if it was not subscribed (and a ledger row was
    written), False when it was already."""
    assert contact.workspace_id == topic.workspace_id
    _row, created = ContactTopic.objects.get_or_create(contact=contact, topic=topic)
    if created:
        record_consent(contact, ConsentAction.SUBSCRIBE, None, consent, topic=topic)
    return created


@transaction.atomic
def unsubscribe_category(contact: Contact, topic: Topic, consent: Consent = Consent()) -> bool:
    """Unsubscribe a contact from a category: True if it was subscribed. Idempotent."""
    assert contact.workspace_id == topic.workspace_id
    deleted, _kinds = ContactTopic.objects.filter(contact=contact, topic=topic).delete()
    if deleted:
        record_consent(contact, ConsentAction.UNSUBSCRIBE, None, consent, topic=topic)
    return bool(deleted)


@transaction.atomic
def set_categories(contact: Contact, topics: Iterable[Topic], consent: Consent = Consent()) -> list[Topic]:
    """Make the contact's categories exactly ``topics``: one ledger row per change, none for
    categories that stay. Returns the categories, by name."""
    wanted = {t.pk: t for t in topics}
    assert all(t.workspace_id == contact.workspace_id for t in wanted.values())
    # The contact's row lock serialises two saves of the same preferences.
    Contact.objects.select_for_update().filter(pk=contact.pk).first()
    current = {ct.topic_id: ct.topic for ct in ContactTopic.objects.filter(contact=contact).select_related("topic")}
    for topic_id, topic in sorted(current.items()):
        if topic_id not in wanted:
            unsubscribe_category(contact, topic, consent)
    for topic_id, topic in sorted(wanted.items()):
        if topic_id not in current:
            subscribe_category(contact, topic, consent)
    return sorted(wanted.values(), key=lambda t: (t.name, t.pk))


def categories_of(contact: Contact) -> list[Topic]:
    return list(Topic.objects.filter(subscriptions__contact=contact).order_by("name", "id"))


# --- GDPR: export and erasure ------------------------------------------------------------------


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


# --- CSV export --------------------------------------------------------------------------------


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs as a formula: risky first characters get a leading ``'``."""
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_contacts_csv(workspace: Workspace) -> Iterator[str]:
    """The workspace's contacts as CSV lines, streamed: email, name, language, time_zone, status,
    lists (subscribed list names, ``;``-separated), then one ``attributes.<name>`` column each."""
    contacts = Contact.objects.filter(workspace=workspace)
    names: set[str] = set()
    for attributes in contacts.values_list("attributes", flat=True).iterator(chunk_size=2000):
        names.update(attributes or {})
    attribute_names = sorted(names)
    writer = csv.writer(_Echo())
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

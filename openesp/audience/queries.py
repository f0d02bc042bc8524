"""Read helpers for the audience pages and routes: listings, filters, counts and histories of
one workspace.

Every function takes the workspace (or an object of it) the caller has already reached through
the access layer (``accounts.access``, ``audience.access``) and never looks outside it, except for
the operator's global suppressions, which every workspace sees. The API and the pages list through
these instead of querying the models themselves.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from openesp.accounts.models import Workspace
from openesp.audience.models import (
    ConsentRecord,
    Contact,
    ContactList,
    ImportJob,
    Segment,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionAudit,
    Topic,
)
from openesp.audience.segments import attribute_equals
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Message


def parse_attribute_filter(workspace: Workspace, text: str) -> Q | None:
    """``country=SE`` → the contacts whose attribute is SE (the name in any case), matched as the API's
    ``?attributes.country=SE`` is (``segments.attribute_equals``: ``age=42`` finds the number 42
    and the text "42"; ``vip=`` finds those that have the attribute at all). Blank → None;
    anything else → InvalidInput naming ``attribute``."""
    text = text.strip()
    if not text:
        return None
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput.one("attribute", "write it as name=value, e.g. country=SE")
    return attribute_equals(workspace, key.strip(), value.strip(), field="attribute")


def contacts_matching(workspace: Workspace, filters: dict[str, Any]) -> QuerySet[Contact]:
    """The workspace's contacts under the filters the contact list offers; empty ones filter nothing.

    ``list`` is a ContactList of this workspace (the caller looked it up); its subscribers are
    those subscribed or pending, as in the API.
    """
    contacts = Contact.objects.filter(workspace=workspace)
    if filters.get("q"):
        contacts = contacts.filter(email_key__contains=filters["q"].strip().lower())
    if filters.get("status"):
        contacts = contacts.filter(status=filters["status"])
    contact_list = filters.get("list")
    if contact_list is not None:
        contacts = contacts.filter(
            subscriptions__contact_list=contact_list,
            subscriptions__status__in=[SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.PENDING],
        )
    attribute = filters.get("attribute")
    if isinstance(attribute, Q):
        contacts = contacts.filter(attribute)
    return contacts.order_by("email_key", "id")


def contacts_of(workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.filter(workspace=workspace)


def lists_of(workspace: Workspace) -> QuerySet[ContactList]:
    """The workspace's lists, by name."""
    return ContactList.objects.filter(workspace=workspace).order_by("name", "id")


def list_members(contact_list: ContactList, status: str = "") -> QuerySet[Subscription]:
    """The subscriptions of a list (with ``status`` only, when given), with their contacts, by address."""
    subscriptions = Subscription.objects.filter(contact_list=contact_list).select_related("contact")
    if status:
        subscriptions = subscriptions.filter(status=status)
    return subscriptions.order_by("contact__email_key", "id")


def subscription_of(contact: Contact, contact_list: ContactList) -> Subscription | None:
    assert contact.workspace_id == contact_list.workspace_id
    return Subscription.objects.filter(contact=contact, contact_list=contact_list).first()


def categories_with_counts(workspace: Workspace) -> QuerySet[Topic]:
    """The workspace's categories, by name, each with ``subscribers``."""
    return Topic.objects.filter(workspace=workspace).annotate(subscribers=Count("subscriptions")).order_by("name", "id")


def segments_of(workspace: Workspace) -> QuerySet[Segment]:
    """The workspace's segments, by name."""
    return Segment.objects.filter(workspace=workspace).order_by("name", "id")


def imports_of(workspace: Workspace) -> QuerySet[ImportJob]:
    """The workspace's imports, newest first."""
    return ImportJob.objects.filter(workspace=workspace).select_related("contact_list").order_by("-created_at", "-id")


def lists_with_counts(workspace: Workspace) -> QuerySet[ContactList]:
    """The workspace's lists, each with ``n_subscribed`` and ``n_pending``."""
    return (
        ContactList.objects.filter(workspace=workspace)
        .annotate(
            n_subscribed=Count("subscriptions", filter=Q(subscriptions__status=SubscriptionStatus.SUBSCRIBED)),
            n_pending=Count("subscriptions", filter=Q(subscriptions__status=SubscriptionStatus.PENDING)),
        )
        .order_by("name", "id")
    )


def subscriptions_by_list(contact: Contact) -> list[tuple[ContactList, Subscription | None]]:
    """Every list of the contact's workspace with the contact's subscription to it (None: never on it)."""
    subscriptions = {s.contact_list_id: s for s in contact.subscriptions.all()}
    lists = ContactList.objects.filter(workspace_id=contact.workspace_id).order_by("name", "id")
    return [(cl, subscriptions.get(cl.pk)) for cl in lists]


def ledger(contact: Contact) -> QuerySet[ConsentRecord]:
    """The contact's consent records, newest first."""
    return contact.consent_records.select_related("actor").order_by("-created_at", "-id")


def suppressions_of(workspace: Workspace, email_key: str) -> list[Suppression]:
    """What stops mail to the address here: the workspace's suppression and the operator's."""
    rows = Suppression.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True), email=email_key)
    return list(rows.order_by("workspace_id", "id"))


def suppressions_for(workspace: Workspace, search: str = "", *, email: str = "") -> QuerySet[Suppression]:
    """The workspace's suppressions and the operator's global ones, newest first: those whose
    address contains ``search``, or is ``email`` (any case), when given."""
    rows = Suppression.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))
    if search.strip():
        rows = rows.filter(email__contains=search.strip().lower())
    if email:
        rows = rows.filter(email=email.strip().lower())
    return rows.order_by("-created_at", "-id")


def workspace_suppression(workspace: Workspace, email: str) -> Suppression | None:
    """The workspace's own suppression of an address (any case), if it has one."""
    return Suppression.objects.filter(workspace=workspace, email=email.strip().lower()).first()


def suppression_history(workspace: Workspace, email_key: str) -> QuerySet[SuppressionAudit]:
    """Every add and remove of the address, here and by the operator, newest first."""
    rows = SuppressionAudit.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True), email=email_key)
    return rows.select_related("actor").order_by("-created_at", "-id")


def messages_to(contact: Contact, limit: int = 20) -> list[Message]:
    """The latest messages the workspace sent to the contact's address."""
    rows = Message.objects.filter(workspace_id=contact.workspace_id, to_email__iexact=contact.email)
    return list(
        rows.only("public_id", "created_at", "subject", "status", "category").order_by("-created_at", "-id")[:limit]
    )

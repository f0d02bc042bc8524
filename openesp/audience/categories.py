"""Categories (the ``Topic`` model): what a contact may choose to hear about, beside the lists.

Creating, renaming and deleting a workspace's categories, and a contact's choice of them, each
change written to the consent ledger. The preference centre (``preferences``) and the API and
UI call these; callers have looked the objects up through the tenant (``audience.access``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from openesp.accounts.models import Workspace
from openesp.audience.actions import unique_name
from openesp.audience.consent import Consent, record_consent
from openesp.audience.models import ConsentAction, Contact, ContactTopic, Topic
from openesp.lib.errors import InvalidInput

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

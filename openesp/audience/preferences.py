"""The preference centre: a hosted page, reached by a token link without logging in, where a
recipient changes their categories, their lists, their language, or unsubscribes from everything.

The token is a ``lib.signing`` link naming the contact's id, with the purpose ``preferences``,
bound to the contact's workspace and address (they enter its HMAC). Like the
unsubscribe link it never expires (a link in an old mail must still work); it stops working
when the contact's address changes or the contact is erased, and rotating ``SECRET_KEY``
invalidates every link.

Every change goes through ``audience.actions`` and is written to the consent ledger with the
source ``preferences`` and the visitor's IP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openesp.audience import actions
from openesp.audience.categories import set_categories
from openesp.audience.consent import Consent
from openesp.audience.models import (
    ConsentSource,
    Contact,
    ContactList,
    ContactStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
    Topic,
)
from openesp.audience.suppressions import remove_suppression
from openesp.audience.unsubscribe import stop_all_mail, unsubscribe_url
from openesp.lib import signing
from openesp.lib.errors import FieldProblem, InvalidInput

PURPOSE = "preferences"
# The languages a recipient may choose: those of our own catalogue; "" follows the browser.
LANGUAGES = ("", *dict(settings.LANGUAGES))


class InvalidToken(ValueError):
    """Not a preference link of ours, or the contact it named is gone or has a new address."""


def _bound_to(workspace_id: int, email_key: str) -> str:
    # A link made for a contact is refused once the contact has another address.
    return f"{workspace_id}:{email_key}"


def make_token(contact: Contact) -> str:
    return _token(contact.pk, contact.workspace_id, contact.email_key)


def _token(contact_id: int, workspace_id: int, email_key: str) -> str:
    return signing.sign(str(contact_id), PURPOSE, bound_to=_bound_to(workspace_id, email_key))


def preferences_url(contact: Contact) -> str:
    return settings.OPENESP_BASE_URL + signing.link_path("preferences", make_token(contact))


def template_links(contact: Contact) -> dict[str, str]:
    """The links a per-recipient template of bulk mail offers: ``preferences_url`` and
    ``unsubscribe_url`` (the same link as the ``List-Unsubscribe`` header). Two HMACs, no query:
    cheap enough for every recipient of a campaign."""
    return links_for(contact.pk, contact.workspace_id, contact.email_key, contact.email)


def links_for(contact_id: int, workspace_id: int, email_key: str, email: str) -> dict[str, str]:
    """``template_links`` of a contact read as plain values (the delivery worker's batches)."""
    token = _token(contact_id, workspace_id, email_key)
    return {
        "preferences_url": settings.OPENESP_BASE_URL + signing.link_path("preferences", token),
        "unsubscribe_url": unsubscribe_url(workspace_id, email),
    }


def contact_for_token(token: str) -> Contact:
    """The contact a link names; InvalidToken for anything else."""
    try:
        link = signing.read(token, max_payload=24)
    except signing.BadLink as exc:
        raise InvalidToken(str(exc)) from None
    if not (link.text.isascii() and link.text.isdigit()):  # "²".isdigit() too, and int() refuses it
        raise InvalidToken("unexpected token content")
    contact = Contact.objects.select_related("workspace__organization").filter(pk=int(link.text)).first()
    # The same answer for a contact that is gone and a bad signature: a guess learns nothing.
    if contact is None or not link.valid(PURPOSE, bound_to=_bound_to(contact.workspace_id, contact.email_key)):
        raise InvalidToken("bad signature")
    return contact


# --- what the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class ListChoice:
    contact_list: ContactList
    status: str  # subscribed, pending or unsubscribed

    @property
    def chosen(self) -> bool:
        return self.status != SubscriptionStatus.UNSUBSCRIBED


@dataclass(frozen=True)
class CategoryChoice:
    topic: Topic
    chosen: bool


def list_choices(contact: Contact) -> list[ListChoice]:
    """The lists the contact has or had a subscription to: never the workspace's other lists."""
    subscriptions = Subscription.objects.filter(contact=contact).select_related("contact_list")
    return [
        ListChoice(s.contact_list, s.status)
        for s in sorted(subscriptions, key=lambda s: (s.contact_list.name, s.contact_list_id))
    ]


def category_choices(contact: Contact) -> list[CategoryChoice]:
    chosen = set(contact.topic_subscriptions.values_list("topic_id", flat=True))
    topics = Topic.objects.filter(workspace_id=contact.workspace_id).order_by("name", "id")
    return [CategoryChoice(t, t.pk in chosen) for t in topics]


def unsubscribed_from_everything(contact: Contact) -> bool:
    return Suppression.objects.filter(
        workspace_id=contact.workspace_id, email=contact.email_key, reason=SuppressionReason.UNSUBSCRIBE
    ).exists()


# --- the changes -------------------------------------------------------------------------------


def _consent(ip: str | None) -> Consent:
    return Consent(source=ConsentSource.PREFERENCES, detail="preference page", ip=ip)


def _ids(values: Iterable[object], field: str) -> set[int]:
    try:
        return {int(str(v)) for v in values}
    except ValueError:
        raise InvalidInput.one(field, "must be ids") from None


@transaction.atomic
def save_preferences(
    contact: Contact,
    *,
    lists: Iterable[object],
    categories: Iterable[object],
    language: str,
    ip: str | None = None,
) -> bool:
    """Make the contact's lists (among those it has or had), categories and language what the
    page sent. True if anything changed. Subscribing to anything again after unsubscribing
    from everything lifts that workspace suppression (the person has just asked for mail)."""
    wanted_lists = _ids(lists, "lists")
    wanted_topics = _ids(categories, "categories")
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    choices = {c.contact_list.pk: c for c in list_choices(contact)}
    topics = {t.pk: t for t in Topic.objects.filter(workspace_id=contact.workspace_id)}
    problems: list[FieldProblem] = []
    if not wanted_lists <= set(choices):
        problems.append(FieldProblem("lists", "names a list this link does not manage"))
    if not wanted_topics <= set(topics):
        problems.append(FieldProblem("categories", "names a category this workspace does not have"))
    if language not in LANGUAGES:
        problems.append(FieldProblem("language", f"must be one of {', '.join(repr(x) for x in LANGUAGES)}"))
    if problems:
        raise InvalidInput(problems)

    consent = _consent(ip)
    changed = False
    resumed = False
    for list_id, choice in sorted(choices.items()):
        if list_id in wanted_lists and not choice.chosen:
            actions.subscribe(contact, choice.contact_list, consent)
            changed = resumed = True
        elif list_id not in wanted_lists and choice.chosen:
            actions.unsubscribe(contact, choice.contact_list, consent)
            changed = True
    before = set(contact.topic_subscriptions.values_list("topic_id", flat=True))
    set_categories(contact, [topics[i] for i in wanted_topics], consent)
    if before != wanted_topics:
        changed = True
        resumed = resumed or bool(wanted_topics - before)
    if language != contact.language:
        actions.update_contact(contact, {"language": language})
        changed = True
    if resumed:
        _resume(contact, consent)
    return changed


def _resume(contact: Contact, consent: Consent) -> None:
    """Undo "unsubscribe from everything": the person subscribed to something again."""
    suppression = Suppression.objects.filter(
        workspace_id=contact.workspace_id, email=contact.email_key, reason=SuppressionReason.UNSUBSCRIBE
    ).first()
    if suppression is not None:
        detail = "subscribed again on the preference page"
        remove_suppression(contact.workspace, contact.email_key, source=consent.source, detail=detail)
    if contact.status == ContactStatus.UNSUBSCRIBED:
        contact.status = ContactStatus.ACTIVE
        contact.updated_at = timezone.now()
        contact.save(update_fields=["status", "updated_at"])


@transaction.atomic
def unsubscribe_from_everything(contact: Contact, *, ip: str | None = None) -> bool:
    """Every list and category off, then what the unsubscribe link does (``stop_all_mail``): a
    workspace suppression (reason ``unsubscribe``), the contact ``unsubscribed``, a ledger row.
    Idempotent: True when something changed."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    consent = _consent(ip)
    changed = False
    for choice in list_choices(contact):
        if choice.chosen:
            actions.unsubscribe(contact, choice.contact_list, consent)
            changed = True
    if contact.topic_subscriptions.exists():
        set_categories(contact, [], consent)
        changed = True
    return stop_all_mail(
        contact.workspace,
        contact.email_key,
        contact,
        source=ConsentSource.PREFERENCES,
        detail="unsubscribed from everything on the preference page",
        consent=consent,
        changed=changed,
    )

"""Looking up a workspace's audience objects through the caller (``accounts.access``).

Every API route and page that takes the id of a contact, a list, a segment, an import or a
category gets the object from here: a missing id and another tenant's object answer the same
``Http404``. With ``workspace`` (a page under ``/workspaces/<id>/``), an object of another
workspace is missing too, even one the caller could reach there.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import Http404

from openesp.accounts.access import Actor, access_all_by_id, access_by_id
from openesp.accounts.models import User, Workspace
from openesp.audience.models import Contact, ContactList, ImportJob, Segment, Subscription, Topic

# Why the audience of a workspace cannot be changed by a viewer (``require_editor``); the web UI
# shows its translation.
AUDIENCE_REFUSAL = "viewers cannot change the audience of this workspace"


def access_contact(actor: Actor | User, contact_id: object, *, workspace: Workspace | None = None) -> Contact:
    queryset = Contact.objects.select_related("workspace")
    return access_by_id(actor, queryset, contact_id, "contact", workspace=workspace)


def access_list(actor: Actor | User, list_id: object, *, workspace: Workspace | None = None) -> ContactList:
    queryset = ContactList.objects.select_related("workspace")
    return access_by_id(actor, queryset, list_id, "list", workspace=workspace)


def access_segment(actor: Actor | User, segment_id: object, *, workspace: Workspace | None = None) -> Segment:
    queryset = Segment.objects.select_related("workspace")
    return access_by_id(actor, queryset, segment_id, "segment", workspace=workspace)


def access_import(actor: Actor | User, import_id: object, *, workspace: Workspace | None = None) -> ImportJob:
    queryset = ImportJob.objects.select_related("workspace", "contact_list")
    return access_by_id(actor, queryset, import_id, "import", workspace=workspace)


def access_category(actor: Actor | User, category_id: object, *, workspace: Workspace | None = None) -> Topic:
    queryset = Topic.objects.select_related("workspace")
    return access_by_id(actor, queryset, category_id, "category", workspace=workspace)


def access_subscription(actor: Actor | User, contact_list: ContactList, contact_id: object) -> Subscription:
    """The subscription of a contact to a list the caller has reached (``access_list``);
    Http404 ("the contact is not on this list") when the contact has none, or is not the list's
    workspace's, or is missing."""
    try:
        contact = access_contact(actor, contact_id, workspace=contact_list.workspace)
    except Http404:
        raise Http404("the contact is not on this list") from None
    subscription = (
        Subscription.objects.select_related("contact", "contact_list")
        .filter(contact_list=contact_list, contact=contact)
        .first()
    )
    if subscription is None:
        raise Http404("the contact is not on this list")
    return subscription


# --- ids in a request's body: input, so one the workspace does not have is a 422 naming the field


def lists_named(
    actor: Actor | User,
    ids: Iterable[object],
    *,
    workspace: Workspace,
    field: str = "lists",
    reason: str = "names a list the workspace does not have",
) -> list[ContactList]:
    return access_all_by_id(actor, ContactList.objects.all(), ids, workspace=workspace, field=field, reason=reason)


def categories_named(
    actor: Actor | User,
    ids: Iterable[object],
    *,
    workspace: Workspace,
    field: str = "categories",
    reason: str = "names a category the workspace does not have",
) -> list[Topic]:
    return access_all_by_id(actor, Topic.objects.all(), ids, workspace=workspace, field=field, reason=reason)


def contact_named(
    actor: Actor | User,
    contact_id: object,
    *,
    workspace: Workspace,
    field: str = "contact_id",
    reason: str = "the workspace has no contact with this id",
) -> Contact:
    (contact,) = access_all_by_id(
        actor, Contact.objects.all(), [contact_id], workspace=workspace, field=field, reason=reason
    )
    return contact

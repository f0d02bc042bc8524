"""Categories of the preference centre, contacts' subscriptions to them, the double opt-in
confirmation mail and the preference link (scope ``contacts``).

Tenancy as for every audience route (``api.scope``): ids in the path answer 404 alike for missing
and foreign objects; ids in a body that the workspace does not have are a 422 naming the field;
viewers read and change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, Conflict, ErrorOut, ThrottledOut
from openesp.api.params import Id
from openesp.api.scope import WORKSPACE_HELP, consent_from, may_change, workspace_of
from openesp.audience import categories, doubleoptin, preferences, queries
from openesp.audience.access import (
    access_category,
    access_contact,
    access_list,
    access_subscription,
    categories_named,
)
from openesp.audience.models import Topic
from openesp.lib.errors import Throttled

router = Router(auth=ApiKeyAuth("contacts"), tags=["categories"])

# --- categories --------------------------------------------------------------------------------


class CategoryIn(Schema):
    name: str
    description: str = ""
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class CategoryPatch(Schema):
    name: str | None = None
    description: str | None = None


class CategoryOut(Schema):
    id: int
    workspace_id: int
    name: str
    description: str
    subscribers: int = Field(description="contacts subscribed to the category")
    created_at: datetime


def _category_out(topic: Topic, subscribers: int | None = None) -> dict[str, Any]:
    return {
        "id": topic.pk,
        "workspace_id": topic.workspace_id,
        "name": topic.name,
        "description": topic.description,
        "subscribers": subscribers if subscribers is not None else topic.subscriptions.count(),
        "created_at": topic.created_at,
    }


@router.post("/categories", response={201: CategoryOut, **ERRORS}, summary="Make a category")
def create_category(request: HttpRequest, payload: CategoryIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    topic = categories.create_category(workspace, payload.name, description=payload.description)
    return Status(201, _category_out(topic, 0))


@router.get("/categories", response={200: list[CategoryOut], **ERRORS}, summary="A workspace's categories")
def list_categories(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    topics = queries.categories_with_counts(ws)
    return [_category_out(t, t.subscribers) for t in topics]  # type: ignore[attr-defined]  # annotated


@router.get("/categories/{category_id}", response={200: CategoryOut, **ERRORS}, summary="A category")
def get_category(request: HttpRequest, category_id: Id) -> dict[str, Any]:
    return _category_out(access_category(caller(request).actor, category_id))


@router.patch(
    "/categories/{category_id}",
    response={200: CategoryOut, **ERRORS},
    summary="Rename a category or change its description",
    description="The consent ledger keeps the name each of its records was made under.",
)
def update_category(request: HttpRequest, category_id: Id, payload: CategoryPatch) -> dict[str, Any]:
    c = caller(request)
    topic = access_category(c.actor, category_id)
    may_change(c, topic.workspace)
    return _category_out(categories.update_category(topic, name=payload.name, description=payload.description))


@router.delete(
    "/categories/{category_id}",
    response={204: None, **ERRORS},
    summary="Delete a category and its subscriptions (the contacts stay)",
)
def delete_category(request: HttpRequest, category_id: Id) -> Status[None]:
    c = caller(request)
    topic = access_category(c.actor, category_id)
    may_change(c, topic.workspace)
    categories.delete_category(topic)
    return Status(204, None)


# --- a contact's categories --------------------------------------------------------------------


class ContactCategoriesIn(Schema):
    categories: list[Id] = Field(description="ids of the categories the contact is to be subscribed to: all of them")


class ContactCategoriesOut(Schema):
    contact_id: int
    categories: list[Id] = Field(description="ids, by category name")


def _contact_categories_out(contact_id: int, topics: list[Topic]) -> dict[str, Any]:
    return {"contact_id": contact_id, "categories": [t.pk for t in topics]}


@router.get(
    "/contacts/{contact_id}/categories",
    response={200: ContactCategoriesOut, **ERRORS},
    summary="The categories a contact is subscribed to",
)
def get_contact_categories(request: HttpRequest, contact_id: Id) -> dict[str, Any]:
    contact = access_contact(caller(request).actor, contact_id)
    return _contact_categories_out(contact.pk, categories.categories_of(contact))


@router.put(
    "/contacts/{contact_id}/categories",
    response={200: ContactCategoriesOut, **ERRORS},
    summary="Set the categories a contact is subscribed to",
    description="Replaces the set: categories left out are unsubscribed. Each change is a consent "
    "record (source `api`); categories that stay are not recorded again. An id the contact's "
    "workspace does not have is a 422 naming `categories`, and changes nothing.",
)
def put_contact_categories(request: HttpRequest, contact_id: Id, payload: ContactCategoriesIn) -> dict[str, Any]:
    c = caller(request)
    contact = access_contact(c.actor, contact_id)
    may_change(c, contact.workspace)
    topics = categories_named(
        c.actor,
        payload.categories,
        workspace=contact.workspace,
        reason="names a category the contact's workspace does not have",
    )
    return _contact_categories_out(contact.pk, categories.set_categories(contact, topics, consent_from(c, None)))


# --- double opt-in and the preference link -----------------------------------------------------


class ConfirmationOut(Schema):
    contact_id: int
    list_id: int
    message_id: str = Field(description="the queued confirmation mail (GET /api/v1/messages/{id})")


@router.post(
    "/lists/{list_id}/subscribers/{contact_id}/confirmation",
    response={202: ConfirmationOut, 409: ErrorOut, 429: ThrottledOut, **ERRORS},
    summary="Send the double opt-in confirmation mail again",
    description="Only for a `pending` subscription (409 otherwise). At most one mail per "
    f"{int(doubleoptin.resend_interval().total_seconds() // 60)} minutes and {doubleoptin.max_per_day()} "
    "per 24 hours for one subscription, the automatic one included, and as many re-sends to one address "
    "whoever asks (`OPENESP_MAIL_REQUEST_INTERVAL`, `OPENESP_MAIL_REQUESTS_PER_DAY`): 429 with `retry_after` "
    "beyond that.",
)
def resend_confirmation(request: HttpRequest, list_id: Id, contact_id: Id) -> Status[dict[str, Any]]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    subscription = access_subscription(c.actor, contact_list, contact_id)
    may_change(c, contact_list.workspace)
    try:
        message = doubleoptin.resend_confirmation(subscription)
    except doubleoptin.NotPending as exc:
        raise Conflict(str(exc)) from None
    except doubleoptin.TooSoon as exc:
        raise Throttled(str(exc), exc.retry_after) from None
    return Status(202, {"contact_id": contact_id, "list_id": list_id, "message_id": str(message.public_id)})


class PreferencesLinkOut(Schema):
    contact_id: int
    url: str = Field(description="the contact's preference page; the link does not expire")


@router.get(
    "/contacts/{contact_id}/preferences-link",
    response={200: PreferencesLinkOut, **ERRORS},
    summary="The link to a contact's preference page, to put in your mail",
    description="Anyone with the link can change the contact's lists, categories and language: send it "
    "only to the contact. It stops working when the contact's address changes. Viewers get a 403.",
)
def preferences_link(request: HttpRequest, contact_id: Id) -> dict[str, Any]:
    c = caller(request)
    contact = access_contact(c.actor, contact_id)
    # The link acts as the contact: those who may not change the audience do not get it.
    may_change(c, contact.workspace)
    return {"contact_id": contact.pk, "url": preferences.preferences_url(contact)}

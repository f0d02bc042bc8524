"""Outsider rows for categories, contacts' categories, the confirmation resend and the preference link."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import actions, categories
from openesp.audience.models import ContactTopic, Topic
from tests.api.tenancy_areas import Route

ROUTES = [
    Route("POST", "/api/v1/categories", {"name": "Pwned", "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/categories?workspace={workspace_id}"),
    Route("GET", "/api/v1/categories/{category_id}"),
    Route("PATCH", "/api/v1/categories/{category_id}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/categories/{category_id}"),
    Route("GET", "/api/v1/contacts/{contact_id}/categories"),
    Route("PUT", "/api/v1/contacts/{contact_id}/categories", {"categories": ["{category_id}"]}),
    Route("POST", "/api/v1/lists/{list_id}/subscribers/{contact_id}/confirmation"),
    Route("POST", "/api/v1/lists/{pending_list_id}/subscribers/{pending_contact_id}/confirmation"),
    Route("GET", "/api/v1/contacts/{contact_id}/preferences-link"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    news = categories.create_category(workspace, "Product news")
    # A pending double opt-in subscription: a resend that got through would queue a mail.
    pending_list = actions.create_list(workspace, "Weekly", double_opt_in=True)
    contact = actions.create_contact(workspace, "pending@example.com", lists=[pending_list])
    categories.subscribe_category(contact, news)
    return {"category_id": news.pk, "pending_list_id": pending_list.pk, "pending_contact_id": contact.pk}


def snapshot() -> list[list[Any]]:
    return [
        list(Topic.objects.order_by("pk").values()),
        list(ContactTopic.objects.order_by("pk").values()),
    ]

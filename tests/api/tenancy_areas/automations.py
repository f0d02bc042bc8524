"""Outsider rows for automations (with the API trigger) and category messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import categories
from openesp.campaigns.automations import AutomationFields, create_automation
from openesp.campaigns.category_messages import create_category_message
from openesp.campaigns.models import Automation as AutomationModel
from openesp.campaigns.models import AutomationEntry, Campaign, CategoryMessage, Response, TriggerKind
from openesp.campaigns.templates import create_template
from tests.api.tenancy_areas import Route

_NEW = {
    "name": "Pwned",
    "trigger": "list_subscribed",
    "list_id": "{list_id}",
    "template_id": "{template_id}",
    "receipt_template_id": "{template_id}",
    "reminder_template_id": "{template_id}",
    "reminder_after_days": 1,
    "from": "alice@example.org",
}

ROUTES = [
    Route("POST", "/api/v1/automations", {**_NEW, "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/automations?workspace={workspace_id}"),
    Route("GET", "/api/v1/automations/{automation_id}"),
    Route("PATCH", "/api/v1/automations/{automation_id}", _NEW),
    Route("PATCH", "/api/v1/automations/{automation_id}", {"status": "paused"}),
    Route("DELETE", "/api/v1/automations/{automation_id}"),
    Route("POST", "/api/v1/automations/{automation_id}/trigger", {"contact_id": "{contact_id}", "data": {"x": 1}}),
    Route("POST", "/api/v1/automations/{automation_id}/trigger", {"email": "subscriber@example.com"}),
    Route("POST", "/api/v1/automations/{automation_id}/responses", {"contact_id": "{contact_id}"}),
    Route(
        "POST",
        "/api/v1/category-messages",
        {
            "category_id": "{news_id}",
            "template_id": "{template_id}",
            "from": "alice@example.org",
            "workspace": "{workspace_id}",
        },
    ),
    Route("GET", "/api/v1/category-messages?workspace={workspace_id}"),
    Route("GET", "/api/v1/category-messages/{category_message_id}"),
    Route("POST", "/api/v1/category-messages/{category_message_id}/cancel"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    version = create_template(workspace, name="Acme automation invite", subject="Hi", text="t", actor=alice)
    automation = create_automation(
        workspace, alice, AutomationFields(name="Acme welcome", trigger=TriggerKind.API, version=version,
                                           from_email=alice.email),
    )  # fmt: skip
    news = categories.create_category(workspace, "Acme news")
    # Scheduled, so that a cancel that got through would change it.
    message = create_category_message(
        workspace, alice, topic=news, version=version, from_email=alice.email,
        send_at=datetime(2099, 1, 1, 9, 0), time_zone="Europe/Stockholm",
    )  # fmt: skip
    return {
        "template_id": version.template_id,
        "automation_id": automation.pk,
        "news_id": news.pk,
        "category_message_id": message.pk,
    }


def snapshot() -> list[list[Any]]:
    return [
        list(AutomationModel.objects.order_by("pk").values()),
        list(AutomationEntry.objects.order_by("pk").values()),
        list(CategoryMessage.objects.order_by("pk").values()),
        list(Response.objects.order_by("pk").values()),
        list(Campaign.objects.order_by("pk").values()),
    ]

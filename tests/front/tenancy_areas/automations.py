"""Outsider rows for the automations and category messages pages of a workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import categories
from openesp.campaigns.automations import AutomationFields, create_automation
from openesp.campaigns.category_messages import create_category_message
from openesp.campaigns.models import TriggerKind
from openesp.campaigns.templates import create_template

TABLE = {
    "ws-automations": (["ws"], ("get",)),
    "ws-automation-new": (["ws"], ("get", "post")),
    "ws-automation": (["ws", "automation"], ("get",)),
    "ws-automation-edit": (["ws", "automation"], ("get", "post")),
    "ws-automation-status": (["ws", "automation"], ("post",)),
    "ws-automation-delete": (["ws", "automation"], ("post",)),
    "ws-catmessages": (["ws"], ("get",)),
    "ws-catmessage-new": (["ws"], ("get", "post")),
    "ws-catmessage": (["ws", "catmessage"], ("get",)),
    "ws-catmessage-cancel": (["ws", "catmessage"], ("post",)),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    version = create_template(workspace, name="Acme automation invite", subject="Hi", text="t", actor=alice)
    fields = AutomationFields(name="Acme welcome", trigger=TriggerKind.API, version=version, from_email=alice.email)
    automation = create_automation(workspace, alice, fields)
    news = categories.create_category(workspace, "Acme news")
    message = create_category_message(
        workspace, alice, topic=news, version=version, from_email=alice.email,
        send_at=datetime(2099, 1, 1, 9, 0), time_zone="Europe/Stockholm",
    )  # fmt: skip
    return {"automation": automation.pk, "catmessage": message.pk}

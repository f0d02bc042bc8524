"""Outsider rows for the template and campaign pages of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import actions
from openesp.campaigns.campaigns import create_campaign
from openesp.campaigns.templates import create_template

BOTH, GET, POST = ("get", "post"), ("get",), ("post",)
TABLE = {
    "ws-templates": (["ws"], GET),
    "ws-template-new": (["ws"], BOTH),
    "ws-template-preview": (["ws"], POST),
    "ws-template": (["ws", "template"], BOTH),
    "ws-template-versions": (["ws", "template"], GET),
    "ws-template-delete": (["ws", "template"], POST),
    "ws-campaigns": (["ws"], GET),
    "ws-campaign-new": (["ws"], BOTH),
    "ws-campaign": (["ws", "campaign"], GET),
    "ws-campaign-schedule": (["ws", "campaign"], POST),
    "ws-campaign-pause": (["ws", "campaign"], POST),
    "ws-campaign-resume": (["ws", "campaign"], POST),
    "ws-campaign-cancel": (["ws", "campaign"], POST),
    "ws-campaign-remind": (["ws", "campaign"], POST),
    "ws-campaign-recipients": (["ws", "campaign"], GET),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    version = create_template(workspace, name="Invite", subject="Hi", html="<p>Hi</p>", actor=alice)
    news = actions.create_list(workspace, "News")
    campaign = create_campaign(
        workspace, alice, name="Spring", template_version=version, from_email=alice.email, lists=[news]
    )
    return {"template": version.template_id, "campaign": campaign.pk}

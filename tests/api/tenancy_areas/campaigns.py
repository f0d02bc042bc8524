"""Outsider rows for the templates and campaigns API (scope ``campaigns``).

Acme's campaign has started (its recipients, queued invitations, a response and a reminder
exist), so that a request that got through would change something visible in the snapshot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import Campaign, Recipient, Reminder, Response, Template, TemplateVersion
from openesp.campaigns.responses import record_response
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from tests.api.tenancy_areas import Route

_TEMPLATE = {"name": "Pwned", "subject": "x", "text": "y"}
_CAMPAIGN = {"name": "Pwned", "template_id": "{template_id}", "from": "alice@example.org"}

ROUTES = [
    Route("GET", "/api/v1/templates?workspace={workspace_id}"),
    Route("POST", "/api/v1/templates", {**_TEMPLATE, "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/templates/{template_id}"),
    Route("PUT", "/api/v1/templates/{template_id}", {"subject": "x", "text": "y"}),
    Route("DELETE", "/api/v1/templates/{template_id}"),
    Route("GET", "/api/v1/templates/{template_id}/versions"),
    Route("POST", "/api/v1/templates/{template_id}/preview", {}),
    Route("POST", "/api/v1/templates/{template_id}/preview", {"contact_id": "{contact_id}"}),
    Route("POST", "/api/v1/templates/{template_id}/test", {}),
    Route("POST", "/api/v1/templates/{template_id}/test", {"contact_id": "{contact_id}"}),
    Route("GET", "/api/v1/campaigns?workspace={workspace_id}"),
    Route("POST", "/api/v1/campaigns", {**_CAMPAIGN, "workspace": "{workspace_id}"}),
    # In the caller's own workspace (a workspace key's, or none for charlie's personal key): Acme's
    # template, list and segment ids in the body name nothing there.
    Route("POST", "/api/v1/campaigns", _CAMPAIGN, status=422),
    Route(
        "POST",
        "/api/v1/campaigns",
        {**_CAMPAIGN, "lists": ["{list_id}"], "segment": "{segment_id}", "receipt_template_id": "{template_id}"},
        status=422,
    ),
    Route("GET", "/api/v1/campaigns/{campaign_id}"),
    Route("PATCH", "/api/v1/campaigns/{campaign_id}", {"name": "Pwned"}),
    Route(
        "PATCH",
        "/api/v1/campaigns/{campaign_id}",
        {
            "lists": ["{list_id}"],
            "segment": "{segment_id}",
            "template_id": "{template_id}",
            "receipt_template_id": "{template_id}",
        },
    ),
    Route("DELETE", "/api/v1/campaigns/{campaign_id}"),
    Route("GET", "/api/v1/campaigns/{campaign_id}/timeline"),
    Route("POST", "/api/v1/campaigns/{campaign_id}/schedule", {"now": True}),
    Route("POST", "/api/v1/campaigns/{campaign_id}/pause"),
    Route("POST", "/api/v1/campaigns/{campaign_id}/resume"),
    Route("POST", "/api/v1/campaigns/{campaign_id}/cancel"),
    Route("GET", "/api/v1/campaigns/{campaign_id}/recipients?responded=false"),
    Route("POST", "/api/v1/campaigns/{campaign_id}/responses", {"contact_id": "{contact_id}"}),
    Route("GET", "/api/v1/campaigns/{campaign_id}/reminders"),
    Route("POST", "/api/v1/campaigns/{campaign_id}/reminders", {"template_id": "{template_id}"}),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    version = create_template(workspace, name="Acme invite", subject="Hi", text="{{ response_url }}", actor=alice)
    invited = create_list(workspace, "Invited")
    contacts = [create_contact(workspace, f"guest{i}@example.com", lists=[invited]) for i in range(3)]
    campaign = create_campaign(
        workspace, alice, name="Acme launch", template_version=version, from_email=alice.email, lists=[invited]
    )
    schedule_campaign(campaign)
    run_due(timezone.now() + timedelta(seconds=1))
    record_response(Recipient.objects.get(campaign=campaign, contact=contacts[0]))
    Reminder.objects.create(campaign=campaign, version=version, after_days=5, created_by=alice)
    return {"template_id": version.template_id, "campaign_id": campaign.pk}


def snapshot() -> list[list[Any]]:
    return [
        list(Template.objects.order_by("pk").values()),
        list(TemplateVersion.objects.order_by("pk").values()),
        list(Campaign.objects.order_by("pk").values()),
        list(Recipient.objects.order_by("pk").values()),
        list(Response.objects.order_by("pk").values()),
        list(Reminder.objects.order_by("pk").values()),
    ]

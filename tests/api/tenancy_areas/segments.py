"""Outsider rows for the segments API and the contacts list's ``segment`` filter."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience.models import Segment
from tests.api.tenancy_areas import Route

ROUTES = [
    Route("GET", "/api/v1/segments?workspace={workspace_id}"),
    Route("POST", "/api/v1/segments", {"name": "Pwned", "query": "opened", "workspace": "{workspace_id}"}),
    Route("POST", "/api/v1/segments/preview", {"query": "opened", "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/segments/{segment_id}"),
    Route("PATCH", "/api/v1/segments/{segment_id}", {"name": "Pwned", "query": "clicked"}),
    Route("DELETE", "/api/v1/segments/{segment_id}"),
    Route("GET", "/api/v1/segments/{segment_id}/contacts"),
    Route("GET", "/api/v1/contacts?workspace={workspace_id}&segment={segment_id}"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    segment = Segment.objects.create(workspace=workspace, name="Swedes", query='attributes.country = "SE"')
    return {"segment_id": segment.pk}


def snapshot() -> list[list[Any]]:
    return [list(Segment.objects.order_by("pk").values())]

"""Outsider rows for the statistics (``GET /api/v1/stats``) and the message log's campaign filter;
the campaign is the campaigns area's.

A foreign campaign named under the outsider's own workspace is covered in
``tests/stats/test_stats_api.py``.
"""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.stats.models import DailyCounter
from tests.api.tenancy_areas import Route

ROUTES = [
    Route("GET", "/api/v1/stats?workspace={workspace_id}"),
    Route("GET", "/api/v1/stats?workspace={workspace_id}&group_by=campaign&campaign={campaign_id}"),
    # The message log narrowed to a campaign (its filter came with the statistics).
    Route("GET", "/api/v1/messages?campaign={campaign_id}"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    return {}


def snapshot() -> list[list[Any]]:
    return [list(DailyCounter.objects.order_by("pk").values())]

"""Outsider rows for the segments pages of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience.models import Segment

TABLE = {
    "ws-segments": (["ws"], ("get",)),
    "ws-segment-new": (["ws"], ("get", "post")),
    "ws-segment-preview": (["ws"], ("get",)),
    "ws-segment": (["ws", "segment"], ("get",)),
    "ws-segment-edit": (["ws", "segment"], ("get", "post")),
    "ws-segment-delete": (["ws", "segment"], ("post",)),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    return {"segment": Segment.objects.create(workspace=workspace, name="Swedes", query='attributes.country = "SE"').pk}

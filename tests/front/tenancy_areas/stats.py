"""Outsider rows for the statistics page of a workspace (``openesp/front/views/stats.py``); the
campaign page with its delivery dashboard is the campaigns area's row."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace

TABLE = {"ws-stats": (["ws"], ("get",))}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    return {}

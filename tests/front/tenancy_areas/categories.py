"""Outsider rows for the categories pages of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import categories

TABLE = {
    "ws-categories": (["ws"], ("get", "post")),
    "ws-category": (["ws", "category"], ("get", "post")),
    "ws-category-delete": (["ws", "category"], ("post",)),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    return {"category": categories.create_category(workspace, "Product news").pk}

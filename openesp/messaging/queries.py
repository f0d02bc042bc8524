"""Read helpers over a workspace's messages, for pages that show numbers (the dashboard).

They take a workspace the caller has already reached through the access layer."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from openesp.accounts.models import Workspace
from openesp.messaging.models import Message


def status_counts(workspace: Workspace, since: datetime) -> dict[str, int]:
    """How many messages of the workspace, created since ``since``, have each status."""
    rows = (
        Message.objects.filter(workspace=workspace, created_at__gte=since)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return {status: n for status, n in rows}


def has_messages(workspaces: list[Workspace]) -> bool:
    """Whether any of these workspaces has ever had a message."""
    return Message.objects.filter(workspace__in=workspaces).exists()

"""What the side menu lists on every page: the workspaces whose message logs the user may open."""

from __future__ import annotations

from typing import Any

from django import template

from openesp.accounts.access import workspaces_for
from openesp.accounts.models import User, Workspace

register = template.Library()

# Beyond this the menu would push everything else off the screen; the dashboard lists them all.
NAV_WORKSPACES = 8


@register.simple_tag(takes_context=True)
def nav_workspaces(context: template.Context) -> list[Workspace]:
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return []
    return list(workspaces_for(user)[: NAV_WORKSPACES + 1])

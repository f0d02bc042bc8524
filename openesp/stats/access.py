"""The campaign a statistics request or the message log narrows to: any campaign row of the workspace (campaigns,
automations and category messages all count their mail under their campaign's id)."""

from __future__ import annotations

from typing import Any

from openesp.accounts.access import Actor, access_by_id
from openesp.accounts.models import User, Workspace
from openesp.campaigns.models import Campaign


def access_counted_campaign(actor: Actor | User, campaign_id: Any, *, workspace: Workspace | None = None) -> Campaign:
    """The campaign with this id (in ``workspace`` when given) in a workspace the actor reaches;
    404 alike for missing and foreign ones."""
    return access_by_id(actor, Campaign.objects.all(), campaign_id, "campaign", workspace=workspace)

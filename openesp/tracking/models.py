"""A workspace's tracking defaults: what a message or campaign that does not choose gets."""

from __future__ import annotations

from django.db import models

from openesp.accounts.models import Workspace


class TrackingDefaults(models.Model):
    """Absent for a workspace: the defaults below (bulk mail tracked, transactional mail not)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="tracking_defaults")
    campaign_opens = models.BooleanField(default=True)
    campaign_clicks = models.BooleanField(default=True)
    transactional_opens = models.BooleanField(default=False)
    transactional_clicks = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"tracking defaults of workspace {self.workspace_id}"

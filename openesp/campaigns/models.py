"""Campaign data: templates and their versions, campaigns, recipients, the link between a queued
message and what it is rendered from, responses and reminders.

A campaign message stores no body: ``CampaignMessage`` names the recipient, the template version
and the purpose, and ``campaigns.render.render_message`` renders it when delivery sends it.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from openesp.accounts.models import Workspace


class Template(models.Model):
    """A named template of a workspace. Its content lives in versions: every save adds one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["workspace", "name"], name="template_unique_name")]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> TemplateVersion:
        return self.versions.order_by("-number").first()  # type: ignore[return-value]


class TemplateVersion(models.Model):
    """One saved state of a template, never changed: a campaign pins one and renders it later."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.TextField()
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)  # blank: derived from the HTML
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("template versions are never changed: save the template again for a new version")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

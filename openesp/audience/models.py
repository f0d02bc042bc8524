"""Audience data. For now: suppressions, which the delivery engine honours."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Workspace


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    COMPLAINT = "complaint", _("Complaint")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")
    MANUAL = "manual", _("Manual")


class Suppression(models.Model):
    """An address mail is not sent to. ``workspace`` None: suppressed by the operator for all."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="suppressions"
    )
    email = models.CharField(max_length=320)  # stored lower-case
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    source_event = models.ForeignKey(
        "messaging.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "email"], name="suppression_unique"),
            models.UniqueConstraint(
                fields=["email"], condition=Q(workspace__isnull=True), name="suppression_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"

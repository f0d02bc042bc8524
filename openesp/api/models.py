"""API keys: shown once, stored as a lookup prefix plus an HMAC of the secret part."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from openesp.accounts.models import Workspace

SCOPES = ("account", "esp", "organizations", "messages.send", "messages.read", "contacts", "campaigns")


class ApiKey(models.Model):
    # A personal key belongs to a user and acts as that user; a workspace key acts within
    # its workspace (and the organization around it) on behalf of the user who created it.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"API key {self.prefix}…"

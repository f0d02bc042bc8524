"""Sending domains and their DKIM keys."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.lib import secretbox


class SendingDomain(models.Model):
    """A domain mail may be sent from. ``workspace`` None: added by the operator for everyone."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="sending_domains"
    )
    domain = models.CharField(max_length=253)
    created_at = models.DateTimeField(default=timezone.now)
    # A workspace's domain counts as a sender only once one of its DKIM records is found
    # published in DNS: proof that the workspace controls the domain. The operator's own
    # domains (added with `openesp dkim`) are trusted as they are added.
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "domain"], name="sendingdomain_unique"),
            models.UniqueConstraint(
                fields=["domain"], condition=Q(workspace__isnull=True), name="sendingdomain_unique_operator"
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class DkimKeyRecord(models.Model):
    """A DKIM key of a sending domain; the private key is encrypted at rest."""

    class Algorithm(models.TextChoices):
        RSA = "rsa", "RSA-2048"
        ED25519 = "ed25519", "Ed25519"

    domain = models.ForeignKey(SendingDomain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=10, choices=Algorithm.choices)
    private_key_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["domain", "selector"], name="dkimkey_unique_selector"),
        ]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def private_pem(self) -> bytes:
        return secretbox.decrypt(self.private_key_encrypted).encode()

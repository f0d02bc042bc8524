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


class RateLimitBucket(models.Model):
    """Shared state of one rate limit, so that it holds across every worker process.

    A token bucket for "messages per second" and a two-window sliding counter for "N per
    period"; see ``openesp/delivery/ratelimit.py``.
    """

    key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField(default=0)
    refilled_at = models.FloatField(default=0)  # epoch seconds
    window_start = models.FloatField(default=0)
    window_count = models.PositiveIntegerField(default=0)
    previous_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class ConcurrencySlot(models.Model):
    """One open connection to a provider, held by a worker until ``expires_at``.

    Counting live slots per key bounds the connections of all workers together; a worker that
    dies leaves slots that simply expire.
    """

    key = models.CharField(max_length=100)
    holder = models.CharField(max_length=64)
    expires_at = models.FloatField()  # epoch seconds

    class Meta:
        indexes: ClassVar = [models.Index(fields=["key", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.key} held by {self.holder}"

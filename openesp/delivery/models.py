"""DKIM keys of the sending domains, and the shared state of the rate limits.

The sending domains themselves are sender rules and live in ``openesp.messaging.models``
(which accepts or refuses a From address); their table keeps its name, ``delivery_sendingdomain``.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from openesp.lib import secretbox


class DkimKeyRecord(models.Model):
    """A DKIM key of a sending domain; the private key is encrypted at rest."""

    class Algorithm(models.TextChoices):
        RSA = "rsa", "RSA-2048"
        ED25519 = "ed25519", "Ed25519"

    domain = models.ForeignKey("messaging.SendingDomain", on_delete=models.CASCADE, related_name="dkim_keys")
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

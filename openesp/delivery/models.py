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

"""Outbound webhooks: a workspace's endpoints, and the outbox that is also their delivery log.

One ``WebhookDelivery`` row per event and endpoint, written in the transaction that writes the
event (``outbox.enqueue_for_events``): an event that commits is delivered, however the process
ends. The row keeps the exact body, so every retry sends the same bytes with the same
``webhook-id``, and it stays as the endpoint's delivery log once delivered or given up.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Workspace

# The event types an endpoint may choose, as the issue names them (``message.`` + Event.type).
EVENT_TYPES = (
    "message.sent",
    "message.delivered",
    "message.deferred",
    "message.bounced",
    "message.dropped",
    "message.opened",
    "message.clicked",
    "message.complained",
    "message.unsubscribed",
    "message.responded",
)


class WebhookEndpoint(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)  # some of EVENT_TYPES
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField()  # lib.secretbox of "whsec_…"
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The message the event is about (no constraint: the log outlives nothing it needs); null
    # for a test event. Deliveries of one message to one endpoint go out in id order.
    message_id = models.BigIntegerField(null=True, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True)
    webhook_id = models.CharField(max_length=64, unique=True)  # the ``webhook-id`` header
    type = models.CharField(max_length=32)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Not partial (``condition=…status="pending"``): SQLite uses a partial index only when
        # the query names the status as a literal, and Django binds it as a parameter.
        indexes: ClassVar = [
            # The claim: pending rows in order.
            models.Index(fields=["status", "next_attempt_at", "id"], name="hook_due_idx"),
            # An earlier pending row of the same message holds the later ones back.
            models.Index(fields=["endpoint", "message_id", "status", "id"], name="hook_order_idx"),
            models.Index(fields=["endpoint", "-id"], name="hook_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} to endpoint {self.endpoint_id} ({self.status})"

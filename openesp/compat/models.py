"""What the compatible APIs keep beside the messages they queue.

``SendBatch`` is SendGrid's batch id (``POST /v3/mail/batch``) with its scheduled-send state:
none, paused or cancelled. ``CompatSend`` is one accepted request's settings that openesp does
not act on yet but keeps (tracking, ASM groups, Mailjet's campaign and tracking flags) with the
batch it named; ``CompatMessage`` links it to its messages, with each message's own schedule so
that resuming a paused batch gives each message back its time. Nothing is written here for a
plain send: the compatible endpoints then cost what ``POST /api/v1/messages`` costs.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.messaging.models import Message


class BatchStatus(models.TextChoices):
    NONE = "", "none"
    PAUSE = "pause", "pause"
    CANCEL = "cancel", "cancel"


class SendBatch(models.Model):
    """A SendGrid batch id of one owner: a workspace (a workspace key's) or a user's own mail."""

    batch_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=8, choices=BatchStatus.choices, default=BatchStatus.NONE, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.batch_id


class CompatSend(models.Model):
    """One accepted request (a SendGrid personalization, a Mailjet message) that named a batch or
    carried settings kept for later work (tracking, ASM)."""

    api = models.CharField(max_length=10)  # sendgrid or mailjet
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    batch = models.ForeignKey(SendBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="sends")
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.api} send {self.pk}"


class CompatMessage(models.Model):
    send = models.ForeignKey(CompatSend, on_delete=models.CASCADE, related_name="links")
    # No database constraint, as Message's own references (messaging.models): written from the
    # objects they name, deleted through the ORM.
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # When the message was to go out: a resumed batch gives it back (a pause moved not_before).
    scheduled_for = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["send"], name="compat_message_send_idx")]

    def __str__(self) -> str:
        return f"message {self.message_id} of send {self.send_id}"

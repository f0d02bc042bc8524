"""The inbox: every event a provider or a bounce sent us, stored before it is worked on.

A webhook request or an inbound bounce mail is answered only after its rows committed here, so
nothing accepted is lost; the workers then process the ``pending`` rows into messaging events,
message statuses and suppressions. ``dedup_key`` (unique) makes a replayed batch store nothing
new: the provider's event id (Mailjet: message, type and time), hashed to one length.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class Source(models.TextChoices):
    SENDGRID = "sendgrid"
    MAILJET = "mailjet"
    MX = "mx"  # a bounce mail to a VERP address on the inbound MX port
    IMAP = "imap"  # a bounce mail fetched from a custom SMTP configuration's bounce mailbox


class State(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    MALFORMED = "malformed"  # unreadable: kept with the reason, never processed
    IGNORED = "ignored"  # a kind of event openesp does not record
    UNMATCHED = "unmatched"  # names no message of ours
    FAILED = "failed"  # processing raised: kept with the error for the operator


class InboxEvent(models.Model):
    source = models.CharField(max_length=12, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    # Null for a malformed event (it has no identity); unique otherwise: nulls are distinct.
    dedup_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - see above
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    # A webhook's event as the provider sent it; a bounce mail as {"rcpt", "mail"} (latin-1 text).
    payload = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["dedup_key"], name="inbox_event_dedup")]
        indexes: ClassVar = [
            # The processor's claim: pending rows in order; a partial index keeps it small.
            models.Index(fields=["id"], name="inbox_event_pending_idx", condition=models.Q(state="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.source} event {self.pk} ({self.state})"

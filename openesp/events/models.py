"""The inbox: every batch a provider or the MX handed us, stored before it is worked on.

A webhook request or an inbound bounce mail is answered only after its ``InboxBatch`` row — the
body as it arrived, one row per request (decision 017) — committed, so nothing accepted is lost.
The workers then split the pending batches into their events: each event becomes one
``InboxEvent`` row (its de-duplication key, the state it ended in and why) in the transaction
that writes what it means (messaging events, message statuses, suppressions). ``dedup_key``
(unique) makes a replayed event change nothing: the provider's event id (Mailjet: message, type
and time; a bounce mail: recipient and the mail's digest), hashed to one length.
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


class InboxBatch(models.Model):
    """One accepted request (or bounce mail), as it arrived; split into events by the workers."""

    source = models.CharField(max_length=12, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    # A webhook's JSON body as the provider sent it (an array, or Mailjet's single object); for
    # a bounce mail, an array of {"rcpt", "mail" (latin-1 text), "id"}, one per VERP recipient.
    body = models.TextField()
    events = models.PositiveIntegerField(default=0)  # items in the body
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)  # pending|done|failed
    reason = models.CharField(max_length=300, blank=True)
    duplicates = models.PositiveIntegerField(default=0)  # events seen before (a replay), set when processed
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            # The processor's claim: pending rows in order; a partial index keeps it small.
            models.Index(fields=["id"], name="inbox_batch_pending_idx", condition=models.Q(state="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.source} batch {self.pk} of {self.events} ({self.state})"


class InboxEvent(models.Model):
    """One event of a processed batch: what became of it. Written by the processor only."""

    source = models.CharField(max_length=12, choices=Source.choices)
    # Null only for rows processed before batches (decision 017). No database constraint: old
    # batches can be deleted (their bodies are the bulk of the inbox) without touching these.
    batch = models.ForeignKey(InboxBatch, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False)
    received_at = models.DateTimeField(default=timezone.now)
    # Null for a malformed event (it has no identity); unique otherwise: nulls are distinct.
    dedup_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - see above
    state = models.CharField(max_length=12, choices=State.choices, default=State.DONE)
    reason = models.CharField(max_length=300, blank=True)
    # The event as the provider sent it, kept when it was not done (malformed, ignored,
    # unmatched, failed); a done event is in its batch's body and in the messaging event.
    payload = models.JSONField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["dedup_key"], name="inbox_event_dedup")]

    def __str__(self) -> str:
        return f"{self.source} event {self.pk} ({self.state})"

"""Outgoing mail as data. The messages table is also the delivery queue: a message is on the
queue from the commit that accepts it, so nothing accepted can be lost between two systems
(docs/architecture.md, "A message's life").

A message is due when its status is ``queued`` or ``deferred`` and ``not_before <= now``.
Workers claim due rows in batches by setting ``lease_owner``/``lease_until``; a lease that
runs out (a dead worker) makes the row claimable again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Organization, Workspace
from openesp.esp.models import EspConfig


class Category(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    INVITATION_AUTOMATION = "invitation_automation", _("Invitation (automation)")
    REMINDER = "reminder", _("Reminder")
    REMINDER_SCHEDULED = "reminder_scheduled", _("Reminder (scheduled)")
    RESPONSE_RECEIPT = "response_receipt", _("Response receipt")
    ORG_INVITATION = "org_invitation", _("Organization invitation")
    WORKSPACE_INVITATION = "workspace_invitation", _("Workspace invitation")
    CATEGORY_MESSAGE = "category_message", _("Category message")
    SYSTEM = "system", _("System message")
    TRANSACTIONAL = "transactional", _("Transactional")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    DEFERRED = "deferred", _("Deferred")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    BOUNCED = "bounced", _("Bounced")
    DROPPED = "dropped", _("Dropped")
    CANCELLED = "cancelled", _("Cancelled")
    SANDBOX = "sandbox", _("Sandbox (validated, not delivered)")
    # An at-most-once message whose worker stopped while sending it: whether the recipient got
    # it is unknown, and it is not sent again (docs/delivery.md, "At most once").
    UNCONFIRMED = "unconfirmed", _("Unconfirmed (not sent again)")


DUE_STATUSES = (Status.QUEUED, Status.DEFERRED)
# Mail a recipient must never receive twice: a worker killed while sending one leaves it
# unconfirmed instead of sending it again (decision 018). Every other category is sent at least
# once: a killed worker's in-flight messages go out again.
AT_MOST_ONCE = frozenset({Category.REMINDER, Category.REMINDER_SCHEDULED, Category.RESPONSE_RECEIPT})


class MessageManager(models.Manager["Message"]):
    def bulk_create(self, objs: Iterable[Message], *args: Any, **kwargs: Any) -> list[Message]:
        """As Django's, with the bodies made by ``text_body``/``html_body`` saved first."""
        objs = list(objs)
        bodies = [body for message in objs if (body := message.unsaved_body()) is not None]
        if bodies:
            MessageBody.objects.bulk_create(bodies)
        return super().bulk_create(objs, *args, **kwargs)


class Message(models.Model):
    """One e-mail to one recipient."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The references below have no database constraints: PostgreSQL checks each one with a
    # trigger per inserted row (at commit, locking the row it names), which for a campaign's
    # million queued messages took longer than writing them. The rows are written from the
    # objects they name; deletes go through the ORM, which cascades and nulls them
    # (docs/campaigns.md, "Expansion speed").
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="messages", db_constraint=False
    )
    # No index of its own: message_ws_created_idx and message_ws_address_idx both start with it.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="messages", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    # On whose behalf the mail is sent: it decides the effective provider with the organization.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages",
        db_constraint=False,
    )  # fmt: skip
    category = models.CharField(max_length=32, choices=Category.choices, default=Category.TRANSACTIONAL)
    from_email = models.CharField(max_length=320)
    from_name = models.CharField(max_length=200, blank=True)
    to_email = models.CharField(max_length=320)
    to_name = models.CharField(max_length=200, blank=True)
    reply_to = models.CharField(max_length=320, blank=True)
    # The To and Cc headers as the recipients see them (``visible_to``, ``visible_cc``). Empty
    # means "To: to_email". A request that named several people shows them all in each copy:
    # its headers are stored once, in the ``AddressHeaders`` row every copy refers to (a To list
    # of 1,000 addresses is 25 KB; written into each of its 1,000 rows, it was 25 MB a request).
    # Here: one recipient's own header (a display name; SMTP's X-SMTPAPI "to"). Bcc recipients
    # get their own Message and appear nowhere.
    to_header = models.TextField(blank=True)
    cc_header = models.TextField(blank=True)
    # No index: nothing looks messages up by it, and each index is paid on every insert.
    address_headers = models.ForeignKey(
        "AddressHeaders", on_delete=models.CASCADE, null=True, blank=True, related_name="messages",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    attachments: models.ManyToManyField[Attachment, Any] = models.ManyToManyField(
        "Attachment", blank=True, related_name="messages"
    )
    # Mail that came in over SMTP is relayed as it came: its bytes are stored once and shared by
    # every recipient's Message (delivery.build sends them instead of building MIME).
    raw_content = models.ForeignKey(
        "RawContent", on_delete=models.CASCADE, null=True, blank=True, related_name="messages", db_constraint=False,
    )  # fmt: skip
    subject = models.CharField(max_length=998)
    # The text and HTML, stored apart (``MessageBody``; read as ``text_body`` and ``html_body``):
    # once for all the copies of one send, and out of the queue's row, which claiming and
    # recording rewrite — on SQLite a whole row, body included, every time (decision 027).
    # None: no body (campaign messages are rendered at send time, SMTP mail is ``raw_content``).
    body = models.ForeignKey(
        "MessageBody", on_delete=models.CASCADE, null=True, blank=True, related_name="messages",
        db_constraint=False, db_index=False,
    )  # fmt: skip
    headers = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # Open and click tracking as the sender asked: {"opens": bool, "clicks": bool}, either key
    # absent = the workspace's (or the campaign's) default (openesp/tracking, docs/tracking.md).
    tracking = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    not_before = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # At-most-once categories only (AT_MOST_ONCE): the attempt whose SMTP transaction (or
    # provider call) began, committed before it begins, and the attempt the provider accepted.
    # A lease that runs out on started_attempt == attempts ends the message instead of sending
    # it again (delivery.queue.settle_unfinished). 0: never.
    started_attempt = models.PositiveIntegerField(default=0)
    accepted_attempt = models.PositiveIntegerField(default=0)

    # Routing, recorded at send time: the provider that carried it and why.
    provider_kind = models.CharField(max_length=20, blank=True)
    # Set when sent: indexed only where set (message_provider_config_idx), no constraint.
    provider_config = models.ForeignKey(
        EspConfig, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    provider_reason = models.CharField(max_length=300, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    # The From address as handed to the provider: a custom SMTP server's own From address
    # replaces the requested one. Empty until a provider was tried.
    sent_from = models.CharField(max_length=320, blank=True)
    last_smtp_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = MessageManager()

    class Meta:
        indexes: ClassVar = [
            # The claim query: due rows in order. Partial on PostgreSQL and SQLite alike.
            models.Index(
                fields=["not_before", "id"],
                name="message_due_idx",
                condition=models.Q(status__in=["queued", "deferred"]),
            ),
            models.Index(fields=["workspace", "-created_at"], name="message_ws_created_idx"),
            # Expired leases (the claim's second half); only rows being sent are in it.
            models.Index(
                fields=["lease_until", "id"],
                name="message_lease_idx",
                condition=models.Q(status="sending"),
            ),
            models.Index(
                fields=["provider_config"],
                name="message_provider_config_idx",
                condition=models.Q(provider_config__isnull=False),
            ),
            # Segments' engagement conditions find a contact's messages by workspace and address,
            # compared case-insensitively (audience.segments).
            models.Index(models.F("workspace"), Lower("to_email"), name="message_ws_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.category} to {self.to_email} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        body = self.unsaved_body()
        if body is not None:
            body.save()
        super().save(*args, **kwargs)

    def unsaved_body(self) -> MessageBody | None:
        """The body ``text_body``/``html_body`` made, to be saved before the message; else None."""
        body = self.body if self.body_id is None else None
        return body if body is not None and body.pk is None else None

    @property
    def text_body(self) -> str:
        body = self.body
        return body.text if body is not None else ""

    @text_body.setter
    def text_body(self, value: str) -> None:
        self._set_body(value, self.html_body)

    @property
    def html_body(self) -> str:
        body = self.body
        return body.html if body is not None else ""

    @html_body.setter
    def html_body(self, value: str) -> None:
        self._set_body(self.text_body, value)

    def _set_body(self, text: str, html: str) -> None:
        # A body of its own, saved with the message (``save``, ``bulk_create``): one that other
        # messages share is never changed in place.
        self.body = MessageBody(text=text, html=html) if text or html else None

    @property
    def visible_to(self) -> str:
        """The To header the recipient sees; empty: their own address alone."""
        shared = self.address_headers
        return shared.to_header if shared is not None else self.to_header

    @property
    def visible_cc(self) -> str:
        """The Cc header the recipient sees; empty: none."""
        shared = self.address_headers
        return shared.cc_header if shared is not None else self.cc_header


class Attachment(models.Model):
    """File content attached to messages; stored once however many recipients share it."""

    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127, default="application/octet-stream")
    content_id = models.CharField(max_length=255, blank=True)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename


class MessageBody(models.Model):
    """A message's text and HTML: one row for every copy of one send (a request's 1,000
    recipients share one), apart from the queue's rows (``Message.body``)."""

    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"message body of {len(self.text) + len(self.html)} characters"


class AddressHeaders(models.Model):
    """The To and Cc headers of a request that named several people, stored once for all the
    Messages of its recipients (``Message.visible_to``)."""

    to_header = models.TextField(blank=True)
    cc_header = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"address headers of {len(self.to_header) + len(self.cc_header)} characters"


class RawContent(models.Model):
    """A message as a client submitted it over SMTP (headers and MIME body, CRLF line endings),
    stored once however many recipients share it: a 30 MB mail to 1,000 recipients is one row."""

    data = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"raw message of {self.size} bytes"


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key``; repeats get it again."""

    owner = models.CharField(max_length=64)  # who sent it: "user:<id>" or "apikey:<id>"
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.owner}:{self.key}"


class EventType(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    DEFERRED = "deferred", _("Deferred")
    BOUNCED = "bounced", _("Bounced")
    DROPPED = "dropped", _("Dropped")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    COMPLAINED = "complained", _("Complained")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    RESPONDED = "responded", _("Responded")
    CANCELLED = "cancelled", _("Cancelled")
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")


class Event(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=16, choices=EventType.choices)
    created_at = models.DateTimeField(default=timezone.now)
    smtp_code = models.PositiveIntegerField(null=True, blank=True)
    enhanced_status = models.CharField(max_length=16, blank=True)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["message", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} for message {self.message_id}"


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
        # Created by delivery (where DKIM keys live) before the sender rules moved here;
        # the table keeps its name so that existing databases keep their rows.
        db_table = "delivery_sendingdomain"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "domain"], name="sendingdomain_unique"),
            models.UniqueConstraint(
                fields=["domain"], condition=Q(workspace__isnull=True), name="sendingdomain_unique_operator"
            ),
        ]

    def __str__(self) -> str:
        return self.domain

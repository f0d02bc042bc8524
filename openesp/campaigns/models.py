"""Campaign data: templates and their versions, campaigns, recipients, the link between a queued
message and what it is rendered from, responses and reminders.

A campaign message stores no body: ``CampaignMessage`` names the recipient, the template version
and the purpose, and ``campaigns.render.render_message`` renders it when delivery sends it.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Workspace
from openesp.audience.models import Contact, ContactList, Segment
from openesp.messaging.models import Message


class Template(models.Model):
    """A named template of a workspace. Its content lives in versions: every save adds one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["workspace", "name"], name="template_unique_name")]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> TemplateVersion:
        return self.versions.order_by("-number").first()  # type: ignore[return-value]


class TemplateVersion(models.Model):
    """One saved state of a template, never changed: a campaign pins one and renders it later."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.TextField()
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)  # blank: derived from the HTML
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("template versions are never changed: save the template again for a new version")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(models.Model):
    """An invitation to an audience (lists and/or a segment), sent from one template version.

    ``created_by`` is the acting user: with the workspace's organization they decide the
    effective provider of every mail of the campaign, as for mail sent through the API.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="campaigns")
    receipt_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_email = models.CharField(max_length=320)
    from_name = models.CharField(max_length=200, blank=True)
    reply_to = models.CharField(max_length=320, blank=True)
    lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    response_url = models.CharField(max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    # When to start (UTC), and the zone it was given in, to show it as it was entered.
    send_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    # Frozen when sending starts: how many recipients, and how many contacts left out and why.
    audience = models.PositiveIntegerField(default=0)
    excluded_suppressed = models.PositiveIntegerField(default=0)
    excluded_unsubscribed = models.PositiveIntegerField(default=0)
    excluded_not_subscribed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["workspace", "-created_at"], name="campaign_ws_created_idx"),
            # The scheduler's look-ups: due starts, and campaigns still sending.
            models.Index(fields=["status", "send_at"], name="campaign_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class Recipient(models.Model):
    """One contact of a campaign's frozen audience. Its response token is signed, not stored
    (``campaigns.tokens``; docs/decisions/007-signed-response-tokens.md)."""

    # No database constraints on these two: PostgreSQL checks each one by a trigger per row at
    # commit, locking the row it names (every contact of the audience), which made most of a
    # million-recipient start's time. The rows are made from the rows they name, in one
    # transaction; deletes go through the ORM, which cascades and nulls them.
    # No index of its own: recipient_unique_contact starts with it.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipients", db_constraint=False, db_index=False
    )
    # None once the contact is erased: its mail is no longer sent, its response stays counted.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    email = models.CharField(max_length=320)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="recipient_unique_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.email} in campaign {self.campaign_id}"


class Purpose(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    REMINDER = "reminder", _("Reminder")
    RECEIPT = "receipt", _("Receipt")


class CampaignMessage(models.Model):
    """What a queued campaign message is rendered from: the message stores no body.

    The primary key is the message's own id, taken from the messages' sequence when the rows
    are made (``campaigns.queueing``), so that both are written set-wise in one transaction.
    """

    # No database constraints (see Recipient): made set-wise from the rows they name.
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="campaign_link", db_constraint=False
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    recipient = models.ForeignKey(
        Recipient, on_delete=models.CASCADE, related_name="links", db_index=False, db_constraint=False
    )
    version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    # No indexes of their own (a million invitations would write NULLs into them): the partial
    # unique constraints below serve the look-ups. No database constraints either: PostgreSQL
    # fires a check per inserted row even for a NULL (0.8 s of CPU for a million invitations).
    reminder = models.ForeignKey(
        "Reminder", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    response = models.ForeignKey(
        "Response", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip

    class Meta:
        constraints: ClassVar = [
            # One invitation per recipient, whatever happens to the workers.
            models.UniqueConstraint(
                fields=["recipient"], condition=Q(purpose="invitation"), name="campaign_message_one_invitation"
            ),
            # Never one reminder twice to a recipient; exactly one receipt per response.
            models.UniqueConstraint(
                fields=["recipient", "reminder"],
                condition=Q(reminder__isnull=False),
                name="campaign_message_one_reminder",
            ),
            models.UniqueConstraint(
                fields=["response"], condition=Q(response__isnull=False), name="campaign_message_one_receipt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.message_id}"


class Response(models.Model):
    """A recipient's answer: at most one per recipient (a repeat gets this one back)."""

    recipient = models.OneToOneField(Recipient, on_delete=models.CASCADE, related_name="response")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="responses")
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16)  # "link", "api", "cli"
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"response of recipient {self.recipient_id}"


class ReminderStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Reminder(models.Model):
    """A reminder to the recipients who have not responded: sent now (``manual``), at a time
    (``send_at``) or ``after_days`` days after the campaign started."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reminders")
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")
    manual = models.BooleanField(default=False)
    send_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    after_days = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.SCHEDULED)
    sent = models.PositiveIntegerField(default=0)  # messages queued
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["status", "send_at"], name="reminder_due_idx")]

    def __str__(self) -> str:
        return f"reminder {self.pk} of campaign {self.campaign_id}"

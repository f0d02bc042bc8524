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
from openesp.audience.models import Contact, ContactList, Segment, Topic
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


class CampaignKind(models.TextChoices):
    CAMPAIGN = "campaign", _("Campaign")
    # The container of an automation or a category message (docs/decisions/008-automations.md):
    # never listed or reached as a campaign (``campaigns.access``), never started by the
    # campaign scheduler; it holds their sender, template version, recipients and counts.
    AUTOMATION = "automation", _("Automation")
    CATEGORY_MESSAGE = "category_message", _("Category message")


class Campaign(models.Model):
    """An invitation to an audience (lists and/or a segment), sent from one template version.

    ``created_by`` is the acting user: with the workspace's organization they decide the
    effective provider of every mail of the campaign, as for mail sent through the API.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    kind = models.CharField(max_length=20, choices=CampaignKind.choices, default=CampaignKind.CAMPAIGN)
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
    # Open and click tracking: {"opens": bool, "clicks": bool}; a key absent = the workspace's
    # default (openesp/tracking, docs/tracking.md).
    tracking = models.JSONField(default=dict, blank=True)
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
    # The invitations are queued in chunks as delivery drains them (``campaigns.invitations``);
    # these three are the cursor, advanced in the transaction that queues a chunk. The highest
    # recipient id whose invitation is queued; how many recipients have none queued yet; the
    # message id of the latest chunk's first invitation (its delivery is watched from there).
    invited_through = models.BigIntegerField(default=0)
    uninvited = models.PositiveIntegerField(default=0)
    invitations_from = models.BigIntegerField(default=0)
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
    # An automation's recipient is one trigger occurrence of a contact: a contact may have
    # several in one automation, one per entry. NULL for every campaign recipient (no index
    # entry is written for it: the constraint below is partial).
    entry = models.ForeignKey(
        "AutomationEntry", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], condition=Q(entry__isnull=True), name="recipient_unique_contact"
            ),
            models.UniqueConstraint(fields=["entry"], condition=Q(entry__isnull=False), name="recipient_unique_entry"),
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
    # The automation entry a message was queued for: tells one entry's rows from the others'
    # when they are queued (``queue_messages``'s ``link``). NULL and unindexed for campaigns.
    entry = models.ForeignKey(
        "AutomationEntry", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False,
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
            # An automation's reminder: at most one per entry.
            models.UniqueConstraint(
                fields=["recipient"],
                condition=Q(purpose="reminder", entry__isnull=False),
                name="campaign_message_one_entry_reminder",
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


# --- automations and category messages (docs/decisions/008-automations.md) ----------------------


class TriggerKind(models.TextChoices):
    LIST = "list_subscribed", _("A contact subscribes to a list")
    DATE = "date_attribute", _("A date attribute is reached")
    API = "api", _("An API call")


class AutomationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Automation(models.Model):
    """An invitation sent to one contact at a time, when a trigger fires, after a delay.

    Its ``campaign`` (kind ``automation``) holds the sender, the pinned template version, the
    response URL and the receipt template, and owns the recipients: one per entry, each with
    its response token, so responses, receipts and rendering work as for campaigns.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="automations")
    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="automation")
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=20, choices=TriggerKind.choices)
    trigger_list = models.ForeignKey(ContactList, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    date_attribute = models.CharField(max_length=100, blank=True)
    offset_days = models.IntegerField(default=0)  # -14: fourteen days before the date
    delay_minutes = models.PositiveIntegerField(default=0)
    reminder_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reminder_after_days = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=AutomationStatus.choices, default=AutomationStatus.ACTIVE)
    # The subscription trigger's watermark: subscriptions changed after it are looked at next;
    # none changed before the trigger was set (``watching_since``) ever is.
    subscriptions_seen_at = models.DateTimeField(default=timezone.now)
    watching_since = models.DateTimeField(default=timezone.now)
    # The date trigger's next evaluation (hourly, so that each contact's local day is seen).
    next_date_check = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "name"], name="automation_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class EntryStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class AutomationEntry(models.Model):
    """A contact entering an automation for one trigger occurrence: the subscription's id, the
    date reached, or the API call's key. Unique per (automation, contact, occurrence): a second
    trigger of the same occurrence changes nothing."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="entries")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    occurrence = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=EntryStatus.choices, default=EntryStatus.WAITING)
    detail = models.CharField(max_length=200, blank=True)  # why it was skipped
    triggered_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    reminder_due_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["automation", "contact", "occurrence"], name="automation_entry_once_per_occurrence"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "due_at"], name="automation_entry_due_idx"),
            models.Index(
                fields=["reminder_due_at"], condition=Q(reminded_at__isnull=True, reminder_due_at__isnull=False),
                name="automation_entry_remind_idx",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.contact_id} in automation {self.automation_id} ({self.occurrence})"


class CategoryMessage(models.Model):
    """A one-off mail to every contact subscribed to a category of the preference centre.

    Its ``campaign`` (kind ``category_message``) holds the sender, the pinned version, the
    schedule, the state (``scheduled → sending → sent``, ``cancelled``) and the counts."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="category_messages")
    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="category_message")
    topic = models.ForeignKey(Topic, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    topic_name = models.CharField(max_length=200)  # kept when the category is deleted
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["workspace", "-created_at"], name="category_message_ws_idx")]

    def __str__(self) -> str:
        return f"category message {self.pk} to {self.topic_name}"

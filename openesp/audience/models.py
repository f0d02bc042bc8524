"""Audience data: contacts, lists, subscriptions, the consent ledger, and suppressions.

Everything belongs to a workspace. Suppressions are honoured by the delivery engine; the consent
ledger (``ConsentRecord``) is append-only: every change of a subscription adds a row.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Workspace


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    COMPLAINT = "complaint", _("Complaint")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")
    MANUAL = "manual", _("Manual")


class Suppression(models.Model):
    """An address mail is not sent to. ``workspace`` None: suppressed by the operator for all."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="suppressions"
    )
    email = models.CharField(max_length=320)  # stored lower-case
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    # How it was added: "api", "admin", "import"…; blank for the delivery engine's own rows,
    # which carry their ``source_event`` instead.
    source = models.CharField(max_length=32, blank=True, default="")
    source_event = models.ForeignKey(
        "messaging.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "email"], name="suppression_unique"),
            models.UniqueConstraint(
                fields=["email"], condition=Q(workspace__isnull=True), name="suppression_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"


class SuppressionAudit(models.Model):
    """Who added or removed a suppression, when and how. Never updated."""

    class Action(models.TextChoices):
        ADD = "add", _("Added")
        REMOVE = "remove", _("Removed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    email = models.CharField(max_length=320)
    action = models.CharField(max_length=8, choices=Action.choices)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    source = models.CharField(max_length=32)
    source_detail = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.action} {self.email}"


class ContactStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")


class Contact(models.Model):
    # No index of its own: the unique (workspace, email_key) index serves lookups by workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    email = models.CharField(max_length=320)  # normalised: the domain lower-cased
    email_key = models.CharField(max_length=320)  # all lower-case: unique per workspace
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=35, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ContactStatus.choices, default=ContactStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "email_key"], name="contact_unique_email"),
        ]
        indexes: ClassVar = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return self.email


class AttributeKey(models.Model):
    """The one spelling of an attribute name in a workspace: the first written. Names are compared
    case-folded (``Country`` and ``country`` are one attribute, stored as ``Country``); every writer
    of ``Contact.attributes`` maps its keys through this table (``audience.attribute_keys``).
    Rows are never removed: a name keeps its spelling after the last contact holding it is gone
    (docs/decisions/009-attribute-keys-fold-case.md)."""

    # No index of its own: the unique (workspace, folded) index serves lookups by workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    folded = models.CharField(max_length=64)  # name.casefold()
    name = models.CharField(max_length=64)  # as first written
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workspace", "folded"], name="attribute_key_unique_folded"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactList(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contact_lists")
    name = models.CharField(max_length=200)
    double_opt_in = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["workspace", "name"], name="contact_list_unique_name")]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", _("Subscribed")
    PENDING = "pending", _("Pending confirmation")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Subscription(models.Model):
    # No index of its own: the unique (contact, contact_list) index serves lookups by contact.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions", db_index=False)
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["contact", "contact_list"], name="subscription_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.contact_list_id}: {self.status}"


class ConsentAction(models.TextChoices):
    SUBSCRIBE = "subscribe", _("Subscribed")
    CONFIRM = "confirm", _("Confirmed")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    IMPORT = "import", _("Imported")
    ERASE = "erase", _("Erased")


class ConsentSource(models.TextChoices):
    API = "api", _("API")
    FORM = "form", _("Form")
    IMPORT = "import", _("Import")
    DOUBLE_OPT_IN = "double_opt_in", _("Double opt-in confirmation")
    ADMIN = "admin", _("Administrator")
    ONE_CLICK = "one-click", _("One-click unsubscribe (RFC 8058)")
    PREFERENCES = "preferences", _("Preference page")


class ConsentRecord(models.Model):
    """One entry of the consent ledger (GDPR Art. 7(1)): who, when, how, and what they were shown.

    Rows are only ever added. ``email_hash`` (see ``consent.email_hash``) names the address
    without holding it, so the ``erase`` row left behind by an erasure identifies nobody.
    """

    # The ledger gains a row for every subscription an import makes, so it keeps few indexes,
    # none of them on a random key: each one is written for every row
    # (docs/decisions/006-consent-ledger-indexes.md). ``contact_list``, ``topic`` and ``actor``
    # are only looked up when a list, a category or a user is deleted. Its references to the
    # workspace, list, category and actor have no database constraint (decision 023): checking
    # them cost three deferred checks per imported row at every commit, a third of PostgreSQL's
    # work in an import; Django's on_delete (CASCADE, SET_NULL) does the deleting as before, and
    # the import holds the lock such a check would take once per batch (imports.write).
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="consent_records"
    )
    email_hash = models.CharField(max_length=64)
    action = models.CharField(max_length=16, choices=ConsentAction.choices)
    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    list_name = models.CharField(max_length=200, blank=True)  # kept when the list is deleted
    topic = models.ForeignKey(
        "Topic", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    topic_name = models.CharField(max_length=200, blank=True)  # kept when the topic is deleted
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    source_detail = models.CharField(max_length=200, blank=True)
    consent_text_version = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [
            # Addresses are looked up by hash only among erasures (an import skips erased
            # addresses); a hash index over every row would be a random write per subscription.
            models.Index(fields=["workspace", "email_hash"], name="consent_erased_idx", condition=Q(action="erase")),
            # Category rows are few: indexed where present, nothing to write for the rest.
            models.Index(fields=["topic"], name="consent_topic_idx", condition=Q(topic__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.action} ({self.source})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("consent records are never changed, only added")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


# --- categories of the preference centre -------------------------------------------------------


class Topic(models.Model):
    """A category a workspace's contacts subscribe to ("Product news", "Survey results").

    Called *category* in the UI and the API (``/api/v1/categories``); named ``Topic`` here so as
    not to be confused with a message's ``messaging.Category`` (invitation, reminder, system…).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["workspace", "name"], name="topic_unique_name")]

    def __str__(self) -> str:
        return self.name


class ContactTopic(models.Model):
    """A contact subscribed to a category: the row exists while they are subscribed."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="topic_subscriptions")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["contact", "topic"], name="contact_topic_unique")]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.topic_id}"


# --- segments ----------------------------------------------------------------------------------


class Segment(models.Model):
    """A saved filter over a workspace's contacts, in the segment syntax (``audience.segments``)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=200)
    query = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


# --- CSV import --------------------------------------------------------------------------------


class ImportMode(models.TextChoices):
    SUBSCRIBE = "subscribe", _("Add and subscribe")
    UPDATE = "update", _("Update existing contacts only")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe and block")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ImportJob(models.Model):
    """One CSV import into a list. The uploaded file waits in the data directory until the job
    has run; a runner claims the job with a lease and commits its progress (``rows_done``,
    ``byte_offset`` and the counts) with each batch, so a runner that dies is taken over where
    it stopped."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="imports")
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    list_name = models.CharField(max_length=200, blank=True)  # kept when the list is deleted
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.SUBSCRIBE)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    file_name = models.CharField(max_length=255)  # as uploaded, for people
    file_path = models.CharField(max_length=500, blank=True)  # relative to the data directory
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    # CSV column name -> "email", "name", "language", "time_zone", "attributes.<name>" or "" (ignored)
    mapping = models.JSONField(default=dict, blank=True)
    consent_text_version = models.CharField(max_length=64, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)  # why a failed job failed
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # when known
    rows_done = models.PositiveIntegerField(default=0)
    byte_offset = models.BigIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["workspace", "-created_at"], name="import_ws_created_idx"),
            models.Index(fields=["status", "lease_until"], name="import_due_idx"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class ImportProblem(models.Model):
    """A row an import skipped, and why: the lines of the downloadable report."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    row_number = models.PositiveIntegerField()  # 1 is the first line after the header
    reason = models.CharField(max_length=300)
    raw = models.TextField(blank=True)  # the row as read, cut at 2,000 characters

    class Meta:
        indexes: ClassVar = [models.Index(fields=["job", "row_number"], name="import_problem_row_idx")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"

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
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
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
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions")
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


class ConsentRecord(models.Model):
    """One entry of the consent ledger (GDPR Art. 7(1)): who, when, how, and what they were shown.

    Rows are only ever added. ``email_hash`` (see ``actions.email_hash``) names the address
    without holding it, so the ``erase`` row left behind by an erasure identifies nobody.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="consent_records"
    )
    email_hash = models.CharField(max_length=64)
    action = models.CharField(max_length=16, choices=ConsentAction.choices)
    contact_list = models.ForeignKey(ContactList, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    list_name = models.CharField(max_length=200, blank=True)  # kept when the list is deleted
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    source_detail = models.CharField(max_length=200, blank=True)
    consent_text_version = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["workspace", "email_hash"])]

    def __str__(self) -> str:
        return f"{self.action} ({self.source})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("consent records are never changed, only added")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

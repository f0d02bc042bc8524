"""The provider choice of a personal account or an organization."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Organization
from openesp.lib import secretbox


class EspKind(models.TextChoices):
    """The kind the code itself refers to. Every registered provider kind is a valid
    ``EspConfig.kind`` (see ``provider_choices``): adding a provider adds no member here."""

    SMTP = "smtp", _("Custom SMTP server")


def provider_choices() -> list[tuple[str, str]]:
    """The registered providers, as the choices of ``EspConfig.kind``.

    A callable: Django evaluates it when it validates or displays, and migrations store its name,
    not today's list, so registering a provider needs no migration.
    """
    from openesp.esp.providers import registry  # the providers import this module's types

    return [(cls.kind, str(EspKind.SMTP.label) if cls.kind == EspKind.SMTP else cls.label) for cls in registry]


class SmtpSecurity(models.TextChoices):
    STARTTLS = "starttls", "STARTTLS"
    TLS = "tls", _("TLS (implicit, usually port 465)")
    NONE = "none", _("None (unencrypted)")


class ImapSecurity(models.TextChoices):
    """Never plaintext: the bounce mailbox's password is only sent over TLS."""

    TLS = "tls", _("TLS (implicit, usually port 993)")
    STARTTLS = "starttls", _("STARTTLS (usually port 143)")


class EspConfig(models.Model):
    """Exactly one of ``user`` and ``organization`` owns a config; each owner has at most one.

    The SMTP password is stored encrypted (``password_encrypted``) and is never given back:
    views and the API only say whether it is set.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="esp_config"
    )
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="esp_config"
    )
    kind = models.CharField(max_length=20, choices=provider_choices)
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    security = models.CharField(max_length=10, choices=SmtpSecurity.choices, blank=True)
    from_email = models.EmailField(blank=True)
    username = models.CharField(max_length=254, blank=True)
    password_encrypted = models.TextField(blank=True)
    enforced = models.BooleanField(default=False)
    # An operator-run provider that carries the mail while the chosen one cannot be reached
    # (see openesp/esp/failover.py); "" for none.
    fallback_kind = models.CharField(max_length=20, blank=True, default="")
    # Sending limits for a custom SMTP server, held across all workers (None: no limit set;
    # connections then default to OPENESP_SMTP_CONNECTIONS).
    max_connections = models.PositiveSmallIntegerField(null=True, blank=True)
    max_per_second = models.FloatField(null=True, blank=True)
    window_count = models.PositiveIntegerField(null=True, blank=True)
    window_seconds = models.PositiveIntegerField(null=True, blank=True)
    # The last policy bounce (5.7.x: refused as spam, DMARC, …) a bounce mail or a provider's
    # event reported for mail this config sent: a problem of the sender, shown on the provider
    # page; the recipients are not suppressed for it (openesp/events/classify.py).
    sender_problem = models.CharField(max_length=300, blank=True)
    sender_problem_at = models.DateTimeField(null=True, blank=True)
    # The bounce mailbox of a custom SMTP server (optional): an IMAP folder the workers poll for
    # bounces the customer's server returns to the sender rather than to openesp's MX
    # (openesp/events/mailbox.py). The password is encrypted like the SMTP password.
    imap_enabled = models.BooleanField(default=False)
    imap_host = models.CharField(max_length=253, blank=True)
    imap_port = models.PositiveIntegerField(null=True, blank=True)
    imap_security = models.CharField(max_length=10, choices=ImapSecurity.choices, blank=True)
    imap_username = models.CharField(max_length=254, blank=True)
    imap_password_encrypted = models.TextField(blank=True)
    imap_folder = models.CharField(max_length=200, blank=True, default="INBOX")
    # The poller's state. ``imap_next_poll_at`` is also its lease: a worker claims a mailbox by
    # moving it forward in a conditional UPDATE, so two workers never poll one at once.
    imap_next_poll_at = models.DateTimeField(null=True, blank=True)
    # The folder's UIDVALIDITY and the highest UID read: later polls read only newer mail.
    imap_uid_validity = models.BigIntegerField(null=True, blank=True)
    imap_last_uid = models.BigIntegerField(default=0)
    imap_polled_at = models.DateTimeField(null=True, blank=True)
    imap_last_read = models.PositiveIntegerField(default=0)  # the last poll's new messages
    imap_last_stored = models.PositiveIntegerField(default=0)  # … and bounces among them stored
    imap_error = models.CharField(max_length=300, blank=True)  # why the last poll failed ("" when it did not)
    imap_error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(organization__isnull=True))
                | (Q(user__isnull=True) & Q(organization__isnull=False)),
                name="espconfig_exactly_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(enforced=False) | Q(organization__isnull=False),
                name="espconfig_only_organizations_enforce",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organization or self.user
        return f"{self.get_kind_display()} for {owner}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def set_password(self, password: str) -> None:
        self.password_encrypted = secretbox.encrypt(password) if password else ""

    def get_password(self) -> str:
        return secretbox.decrypt(self.password_encrypted) if self.password_encrypted else ""

    @property
    def has_imap_password(self) -> bool:
        return bool(self.imap_password_encrypted)

    @property
    def has_bounce_mailbox(self) -> bool:
        return bool(self.imap_host)

    def set_imap_password(self, password: str) -> None:
        self.imap_password_encrypted = secretbox.encrypt(password) if password else ""

    def get_imap_password(self) -> str:
        return secretbox.decrypt(self.imap_password_encrypted) if self.imap_password_encrypted else ""

    def forget_bounce_mailbox(self) -> None:
        """No bounce mailbox: its settings, password, read position and last error gone (not saved)."""
        self.imap_enabled, self.imap_host, self.imap_port, self.imap_security = False, "", None, ""
        self.imap_username, self.imap_password_encrypted, self.imap_folder = "", "", "INBOX"
        self.imap_next_poll_at, self.imap_uid_validity, self.imap_last_uid = None, None, 0
        self.imap_polled_at, self.imap_error, self.imap_error_at = None, "", None
        self.imap_last_read = self.imap_last_stored = 0


class ProviderHealth(models.Model):
    """How a provider has fared lately, shared by every worker process (failover).

    ``key`` names a route: an operator-run provider by its kind ("sendgrid"), a customer's
    server by its config ("smtp:12"), the operator's relay as "relay". ``failing_since`` is set
    at the first connection-level failure and cleared by the next success.
    """

    key = models.CharField(max_length=100, unique=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    probed_at = models.DateTimeField(null=True, blank=True)  # the last probe while failing
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key

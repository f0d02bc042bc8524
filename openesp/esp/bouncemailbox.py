"""The bounce mailbox of a custom SMTP configuration: validating, saving and testing its settings.

Optional, for custom SMTP servers only: an IMAP folder where the customer's server (or the
mail system behind the From address) leaves the bounces it gets, which the workers poll
(``openesp/events/mailbox.py``). Consumer mailbox hosts are fine here — bounces may arrive
anywhere — but the host is guarded like the SMTP host, and the password is kept like the SMTP
password: encrypted, never given back, re-entered when the host changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from openesp.accounts.models import User
from openesp.esp.actions import _valid_hostname
from openesp.esp.imap import DEFAULT_PORTS, ImapFailed, Mailbox, check_port, close, mailbox_for, open_mailbox
from openesp.esp.models import EspConfig, EspKind, ImapSecurity
from openesp.lib import netguard
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.lib.ratelimit import Limits, acquire
from openesp.lib.secretbox import SecretUnreadable


@dataclass
class MailboxInput:
    """``password`` None keeps the stored one."""

    host: str = ""
    port: int | None = None
    security: str = ""
    username: str = ""
    password: str | None = None
    folder: str = ""
    enabled: bool = True

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> MailboxInput:
        port = data.get("port")
        if isinstance(port, str):
            port = int(port) if port.strip().isdigit() else (None if not port.strip() else -1)
        return cls(
            host=str(data.get("host") or ""),
            port=port if isinstance(port, int) else None,
            security=str(data.get("security") or ""),
            username=str(data.get("username") or ""),
            password=None if data.get("password") is None else str(data["password"]),
            folder=str(data.get("folder") or ""),
            enabled=bool(data.get("enabled", True)),
        )


@dataclass(frozen=True)
class CleanMailbox:
    host: str
    port: int
    security: str
    username: str
    password: str | None
    folder: str
    enabled: bool


def clean_mailbox(data: MailboxInput, config: EspConfig) -> CleanMailbox:
    problems: list[FieldProblem] = []
    if config.kind != EspKind.SMTP:
        raise InvalidInput.one("kind", _("a bounce mailbox belongs to a custom SMTP server"))
    host = data.host.strip().strip("[]").rstrip(".").lower()
    security = data.security or ("starttls" if data.port == 143 else "tls")
    if security not in ImapSecurity.values:
        problems.append(FieldProblem("security", _("must be tls or starttls: the password is only sent encrypted")))
    port = data.port if data.port is not None else DEFAULT_PORTS.get(security, 993)
    if not host:
        problems.append(FieldProblem("host", _("enter the IMAP server's host name")))
    elif netguard.numeric_address(host) is None and not _valid_hostname(host):
        problems.append(FieldProblem("host", _("%(host)s is not a valid host name") % {"host": repr(host)}))
    else:
        try:
            netguard.check_host_text(host)
        except netguard.HostRefused as exc:
            problems.append(FieldProblem("host", str(exc)))
    try:
        check_port(port)
    except netguard.HostRefused as exc:
        problems.append(FieldProblem("port", str(exc)))
    username = data.username.strip()
    if not username:
        problems.append(FieldProblem("username", _("enter the mailbox's user name")))
    elif len(username) > 254:
        problems.append(FieldProblem("username", _("is longer than 254 characters")))
    password = data.password or None
    keeps = password is None and config.has_imap_password
    if keeps and config.imap_host and config.imap_host != host:
        # Never send a stored password to a host it was not typed in for.
        problems.append(FieldProblem("password", _("enter the password again when you change the host")))
    elif password is None and not keeps:
        problems.append(FieldProblem("password", _("enter the mailbox's password")))
    if password is not None and len(password) > 1024:
        problems.append(FieldProblem("password", _("is longer than 1024 characters")))
    folder = data.folder.strip() or "INBOX"
    if len(folder) > 200 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in folder):
        problems.append(FieldProblem("folder", _("must be a folder name of at most 200 characters")))
    if problems:
        raise InvalidInput(problems)
    return CleanMailbox(host, port, security, username, password, folder, data.enabled)


def save_bounce_mailbox(actor: User, config: EspConfig, data: MailboxInput) -> EspConfig:
    """Save the mailbox of a config the caller may manage (the caller checked that)."""
    with transaction.atomic():
        config = EspConfig.objects.select_for_update().get(pk=config.pk)
        clean = clean_mailbox(data, config)
        moved = (config.imap_host, config.imap_port, config.imap_username, config.imap_folder) != (
            clean.host, clean.port, clean.username, clean.folder
        )  # fmt: skip
        config.imap_host, config.imap_port, config.imap_security = clean.host, clean.port, clean.security
        config.imap_username, config.imap_folder, config.imap_enabled = clean.username, clean.folder, clean.enabled
        if clean.password is not None:
            config.set_imap_password(clean.password)
        if moved:  # another folder: its UIDs mean nothing to the old one's
            config.imap_uid_validity, config.imap_last_uid = None, 0
        # Poll soon after a change, and forget an error the change may have fixed.
        config.imap_next_poll_at = timezone.now()
        config.imap_error, config.imap_error_at = "", None
        config.updated_at = timezone.now()
        config.updated_by = actor
        config.save()
        return config


def clear_bounce_mailbox(actor: User, config: EspConfig) -> EspConfig:
    with transaction.atomic():
        config = EspConfig.objects.select_for_update().get(pk=config.pk)
        config.forget_bounce_mailbox()
        config.updated_at = timezone.now()
        config.updated_by = actor
        config.save()
        return config


@dataclass(frozen=True)
class MailboxTest:
    ok: bool
    step: str  # validate, resolve, connect, tls, auth, folder, or done
    detail: str  # never the password


def test_bounce_mailbox(config: EspConfig, data: MailboxInput | None, *, tester_email: str) -> MailboxTest:
    """Connect, log in and open the folder (read-only): the settings typed (``data``) or the
    saved ones (None). Bounded per person like the SMTP *Test connection*."""
    grant = acquire(
        f"esp-test:{tester_email.lower()}",
        1,
        Limits(window_count=settings.OPENESP_TEST_CONNECTION_LIMIT, window_seconds=3600),
    )
    if not grant.granted:
        minutes = max(1, math.ceil(grant.retry_after / 60))
        return MailboxTest(
            False,
            "validate",
            _("too many connection tests in the last hour; try again in %(n)s minutes") % {"n": minutes},
        )
    try:
        if data is None:
            if not config.has_bounce_mailbox:
                return MailboxTest(False, "validate", _("no bounce mailbox is set"))
            mailbox = mailbox_for(config)
        else:
            clean = clean_mailbox(data, config)
            password = clean.password if clean.password is not None else config.get_imap_password()
            mailbox = Mailbox(clean.host, clean.port, clean.security, clean.username, password, clean.folder)
    except InvalidInput as exc:
        return MailboxTest(False, "validate", str(exc))
    except SecretUnreadable:
        return MailboxTest(False, "validate", _("password: the stored password cannot be read; enter it again"))
    try:
        client, count = open_mailbox(mailbox, readonly=True)
    except ImapFailed as exc:
        return MailboxTest(False, exc.step, str(exc))
    close(client)
    return MailboxTest(
        True,
        "done",
        _("logged in to %(host)s as %(user)s; the folder %(folder)s holds %(count)s messages")
        % {"host": mailbox.host, "user": mailbox.username, "folder": mailbox.folder, "count": count},
    )


test_bounce_mailbox.__test__ = False  # type: ignore[attr-defined]

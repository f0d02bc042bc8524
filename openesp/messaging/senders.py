"""Sender rules: which From addresses an account may use, and the sending domains behind them.

A sender is the caller's own verified address, the From of their effective custom SMTP server,
or an address at a verified sending domain of the operator or of the workspace. Verifying a
domain (finding its DKIM record in DNS) and signing with its keys belong to delivery
(``openesp.delivery.domains``), which builds on the rows kept here.
"""

from __future__ import annotations

import re

from django.utils import timezone

from openesp.accounts.models import Organization, User, Workspace
from openesp.esp.effective import effective_provider
from openesp.esp.models import EspKind
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import SendingDomain

_DOMAIN = re.compile(r"^(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")


class SenderNotAllowed(PermissionError):
    """The caller may not send from this address. The message says why."""


def clean_domain(raw: str) -> str:
    try:
        domain = raw.strip().rstrip(".").encode("idna").decode().lower()
    except UnicodeError:
        raise InvalidInput.one("domain", f"{raw!r} is not a valid domain name") from None
    if not _DOMAIN.match(domain):
        raise InvalidInput.one("domain", f"{raw!r} is not a valid domain name")
    return domain


def add_sending_domain(domain: str, workspace: Workspace | None = None) -> SendingDomain:
    record, _created = SendingDomain.objects.get_or_create(
        workspace=workspace,
        domain=clean_domain(domain),
        # The operator's domains are trusted; a workspace's must be verified (verify_domain).
        defaults={"verified_at": timezone.now() if workspace is None else None},
    )
    return record


def may_send_from(from_email: str, workspace_id: int | None) -> bool:
    """Whether the address is at a verified sending domain of the operator or of the workspace."""
    domain = from_email.rpartition("@")[2].lower()
    domains = SendingDomain.objects.filter(domain=domain, verified_at__isnull=False)
    return domains.filter(workspace__isnull=True).exists() or (
        workspace_id is not None and domains.filter(workspace_id=workspace_id).exists()
    )


def check_sender(actor: User, organization: Organization | None, workspace: Workspace | None, sender: str) -> None:
    """The caller's own verified address, the From of the effective custom SMTP config, or an
    address at a sending domain of the operator or the workspace."""
    address = sender.lower()
    if actor.email_verified and address == actor.email.lower():
        return
    effective = effective_provider(actor, organization)
    if effective.kind == EspKind.SMTP and effective.config and address == effective.config.from_email.lower():
        return
    if may_send_from(address, workspace.pk if workspace else None):
        return
    raise SenderNotAllowed(
        f"{sender} is not a sender you may use: use your own verified address, the From address of your "
        "custom SMTP server, or an address at a sending domain added by the operator or the workspace"
    )

"""Where account mail goes: e-mail verification, password reset and invitations.

Mail that loses its purpose before it goes out (the address got verified, the invitation was
answered, the reset link used) is *withdrawn*: every such mail carries its purpose in its
metadata (``openesp_purpose`` and the user or invitation it is about), and ``withdraw_mail``
cancels the ones still queued or deferred. What a worker holds already goes out.

Such mail is a queued ``Message``, written in the transaction of the change it is about (an
invitation and its mail commit or roll back together). Messages live in ``messaging``, a layer
above accounts, and accounts never imports a higher layer: messaging registers its queueing
function here when Django starts (``MessagingConfig.ready``), and accounts calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from openesp.accounts.models import Organization, User, Workspace

# The categories of account mail, as messaging names them (it checks, when it registers).
SYSTEM = "system"
ORG_INVITATION = "org_invitation"
WORKSPACE_INVITATION = "workspace_invitation"
CATEGORIES = frozenset({SYSTEM, ORG_INVITATION, WORKSPACE_INVITATION})


class Outbox(Protocol):
    def __call__(
        self,
        *,
        category: str,
        to_email: str,
        subject: str,
        text_body: str,
        from_name: str = "",
        user: User | None = None,
        organization: Organization | None = None,
        workspace: Workspace | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> object: ...


class Withdraw(Protocol):
    def __call__(self, *, categories: frozenset[str], metadata: Mapping[str, str], reason: str) -> int: ...


# The purposes of account mail, as their metadata names them.
VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
INVITATION = "invitation"
PURPOSE_KEY = "openesp_purpose"

_outbox: Outbox | None = None
_withdraw: Withdraw | None = None


def register(outbox: Outbox, withdraw: Withdraw) -> None:
    global _outbox, _withdraw  # one process-wide pair of hooks, set once at start-up
    _outbox, _withdraw = outbox, withdraw


def withdraw_mail(purpose: str, reason: str, **about: str) -> int:
    """Cancel the account mail of this purpose about this user or invitation that has not gone
    out yet, with ``reason`` on its ``cancelled`` event; how many were cancelled."""
    if _withdraw is None:
        raise ImproperlyConfigured("no outbox for account mail: is openesp.messaging installed?")
    return _withdraw(categories=CATEGORIES, metadata={PURPOSE_KEY: purpose, **about}, reason=reason)


def queue_mail(
    *,
    category: str,
    to_email: str,
    subject: str,
    text_body: str,
    from_name: str = "",
    user: User | None = None,
    organization: Organization | None = None,
    workspace: Workspace | None = None,
    metadata: Mapping[str, str] | None = None,
) -> object:
    """Queue one account mail; returns what the outbox made of it (messaging: the ``Message``)."""
    assert category in CATEGORIES, category
    if _outbox is None:
        raise ImproperlyConfigured("no outbox for account mail: is openesp.messaging installed?")
    return _outbox(
        category=category,
        to_email=to_email,
        subject=subject,
        text_body=text_body,
        from_name=from_name,
        user=user,
        organization=organization,
        workspace=workspace,
        metadata=metadata,
    )

"""Where account mail goes: e-mail verification, password reset and invitations.

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


_outbox: Outbox | None = None


def register(outbox: Outbox) -> None:
    global _outbox  # one process-wide hook, set once at start-up
    _outbox = outbox


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

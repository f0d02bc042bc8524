"""What the audience routes (contacts, lists, suppressions, categories, imports, segments) share:
the workspace a request acts in, the viewer check, and the consent a request records.

A personal key names the workspace (``workspace`` in the body or the query); a workspace key
uses its own when it names none, and reaches the other workspaces of its organization like the
user who made it (docs/api.md). Objects named by id come through ``audience.access``.
"""

from __future__ import annotations

import ipaddress

from ninja import Field, Schema

from openesp.accounts.access import access_workspace, require_editor
from openesp.accounts.models import Workspace
from openesp.api.auth import Caller
from openesp.audience.access import AUDIENCE_REFUSAL
from openesp.audience.consent import Consent
from openesp.audience.models import ConsentSource
from openesp.lib.errors import InvalidInput

WORKSPACE_HELP = "personal keys: the workspace (required); workspace keys: their own when omitted"


def operation_id(name: str) -> str:
    """The OpenAPI operation id the audience routes had in one module (``api/audience.py``):
    generated clients name their methods after it, so splitting the module keeps it."""
    return f"openesp_api_audience_{name}"


def workspace_of(c: Caller, workspace_id: int | None) -> Workspace:
    """The workspace a request names (``workspace``), or a workspace key's own; 404 if not reachable."""
    if workspace_id is None:
        if c.key.workspace_id is None:
            raise InvalidInput.one("workspace", "is required with a personal API key")
        workspace_id = c.key.workspace_id
    return access_workspace(c.actor, workspace_id)


def may_change(c: Caller, workspace: Workspace) -> None:
    """Viewers read the audience; they change nothing (NotAllowed, a 403)."""
    require_editor(c.actor, workspace, AUDIENCE_REFUSAL)


class ConsentIn(Schema):
    """What the subscriber agreed to and from where, when your form collected it: for the ledger."""

    text_version: str = Field("", max_length=64, description="the version of the consent text shown")
    ip: str | None = Field(None, description="the subscriber's IP address")


def consent_from(c: Caller, given: ConsentIn | None) -> Consent:
    ip = given.ip if given else None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidInput.one("consent.ip", "is not an IP address") from None
    return Consent(
        source=ConsentSource.API,
        detail=f"API key {c.key.prefix}",
        text_version=given.text_version if given else "",
        ip=ip,
        actor=c.user,
    )


def key_consent(c: Caller) -> Consent:
    """The consent of a change the key makes on its own (an erasure): no text, no IP."""
    return Consent(source=ConsentSource.API, detail=f"API key {c.key.prefix}")

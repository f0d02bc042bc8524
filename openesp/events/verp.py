"""VERP return paths: ``b+<message id>.<hmac>@<OPENESP_BOUNCE_DOMAIN>``.

Each message sent over SMTP carries its own envelope sender, so a bounce mail returned to it
names the message without our parsing anything the remote server wrote. The message id is the
public id in hex (32 characters) and the HMAC 16 hex characters of a keyed SHA-256 (64 bits):
the local part stays within SMTP's 64 characters, and a guessed address is refused at RCPT.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings

from openesp.lib.tokens import hashes_match, token_hash

_PURPOSE = "verp"
_LOCAL = re.compile(r"^b\+([0-9a-f]{32})\.([0-9a-f]{16})$")


def _mac(hex_id: str) -> str:
    return token_hash(hex_id, _PURPOSE)[:16]


def bounce_address(public_id: uuid.UUID) -> str:
    """The VERP return path of a message (only when a bounce domain is configured)."""
    return f"b+{public_id.hex}.{_mac(public_id.hex)}@{settings.OPENESP_BOUNCE_DOMAIN}"


def return_path(public_id: uuid.UUID, sender: str) -> str:
    """The envelope sender for a message: its VERP address, or ``sender`` without a bounce domain."""
    return bounce_address(public_id) if settings.OPENESP_BOUNCE_DOMAIN else sender


def read(address: str) -> uuid.UUID | None:
    """The message a VERP address names, or None when it is not one of ours (forged, other domain)."""
    domain = settings.OPENESP_BOUNCE_DOMAIN
    if not domain:
        return None
    local, _, at = address.strip().strip("<>").rpartition("@")
    if at.lower() != domain.lower():
        return None
    match = _LOCAL.match(local.lower())
    if match is None or not hashes_match(_mac(match.group(1)), match.group(2)):
        return None
    return uuid.UUID(match.group(1))

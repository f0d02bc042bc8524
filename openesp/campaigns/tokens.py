"""Response tokens: the unguessable part of a recipient's link ``/r/<token>/``.

Signed, not stored (docs/decisions/007-signed-response-tokens.md), as the unsubscribe and
preference links are:

    token = base64url("<recipient id>") + "." + hex(HMAC-SHA256)[:32]

with ``lib.tokens.token_hash`` and the purpose ``response`` (keyed by ``SECRET_KEY``), compared
in constant time. Unique because the recipient id is; unguessable because of the 128-bit HMAC.
"""

from __future__ import annotations

import base64
import binascii
import re

from django.conf import settings

from openesp.lib.tokens import hashes_match, token_hash

PURPOSE = "response"
_SIGNATURE_CHARS = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,24}\.[0-9a-f]{32}\Z")


class InvalidToken(ValueError):
    """Not a response token of ours."""


def _signature(payload: str) -> str:
    return token_hash(payload, PURPOSE)[:_SIGNATURE_CHARS]


def make_token(recipient_id: int) -> str:
    payload = base64.urlsafe_b64encode(str(recipient_id).encode()).decode().rstrip("=")
    return f"{payload}.{_signature(payload)}"


def recipient_id_for(token: str) -> int:
    """The recipient id a token of ours names; InvalidToken for anything else."""
    if not _TOKEN.match(token):
        raise InvalidToken("malformed token")
    payload, signature = token.split(".")
    if not hashes_match(_signature(payload), signature):
        raise InvalidToken("bad signature")
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidToken("undecodable token") from None
    if not (text.isascii() and text.isdigit()):
        raise InvalidToken("unexpected token content")
    return int(text)


def response_url(recipient_id: int) -> str:
    """The hosted response page of a recipient (the route ``/r/<token>/`` of the front face)."""
    return f"{settings.OPENESP_BASE_URL}/r/{make_token(recipient_id)}/"

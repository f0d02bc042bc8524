"""Signed links that never expire: a short text, readable by whoever holds the link, and an HMAC
that only the site can make.

    token = base64url(text, unpadded) + "." + hex(HMAC-SHA256)[:32]

The HMAC is ``lib.tokens.token_hash`` over the encoded text with a purpose (``unsubscribe``,
``preferences``…), so a token made for one purpose is refused for another; it is truncated to 128
bits and compared in constant time. A link may also be *bound* to facts the database holds (an
address): they enter the HMAC but not the token, so the link stops working when they change.
Changing ``SECRET_KEY`` invalidates every link made. The text is encoded, not encrypted.

Links that expire use ``django.core.signing`` with a ``max_age`` instead.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from openesp.lib.tokens import hashes_match, token_hash

SIGNATURE_CHARS = 32  # hex: 128 bits


class BadLink(ValueError):
    """Not a token of this form: malformed, or its text does not decode."""


def _signature(payload: str, purpose: str, bound_to: str) -> str:
    message = f"{payload}:{bound_to}" if bound_to else payload
    return token_hash(message, purpose)[:SIGNATURE_CHARS]


def sign(text: str, purpose: str, *, bound_to: str = "") -> str:
    """The token for ``text``, for ``purpose`` (and, if given, bound to ``bound_to``)."""
    payload = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return f"{payload}.{_signature(payload, purpose, bound_to)}"


@dataclass(frozen=True)
class SignedLink:
    """A token taken apart, its signature not yet checked: read ``text``, then call ``valid``."""

    payload: str
    text: str
    signature: str

    def valid(self, purpose: str, *, bound_to: str = "") -> bool:
        return hashes_match(_signature(self.payload, purpose, bound_to), self.signature)


def read(token: str, *, max_payload: int, min_payload: int = 1) -> SignedLink:
    """Take a token apart (BadLink when it is not of this form); the signature is not checked yet,
    so that a link bound to database facts can look them up first."""
    if not re.fullmatch(rf"[A-Za-z0-9_-]{{{min_payload},{max_payload}}}\.[0-9a-f]{{{SIGNATURE_CHARS}}}", token):
        raise BadLink("malformed token")
    payload, signature = token.split(".")
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise BadLink("undecodable token") from None
    return SignedLink(payload, text, signature)

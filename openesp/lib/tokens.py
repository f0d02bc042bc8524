"""Opaque random tokens of which only a hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

from openesp.lib.linksign import purpose_key


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str, purpose: str) -> str:
    """HMAC-SHA256 keyed by the site secret and the token's purpose, hex encoded.

    Keyed, not a bare hash, so that a leaked table alone does not let anyone check guesses;
    the purpose keeps an invitation token from being replayed as an API key and vice versa.
    """
    return hmac.new(purpose_key(settings.SECRET_KEY, purpose), token.encode(), hashlib.sha256).hexdigest()


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

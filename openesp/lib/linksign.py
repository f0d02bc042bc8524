"""The signing of ``lib.signing`` with its key given, free of Django: the delivery worker's build
processes sign tracked links with keys the worker derives (``purpose_key``) and hands them, never
the site's secret itself."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

SIGNATURE_CHARS = 32  # hex: 128 bits


@functools.lru_cache(maxsize=64)
def purpose_key(secret: str, purpose: str) -> bytes:
    """The HMAC key of one purpose (``lib.tokens.token_hash``): a key for another purpose, or the
    secret itself, cannot be learnt from it. Derived once per secret and purpose (the worker
    signs three links for every campaign recipient); the secret is part of the cache's key, so a
    changed ``SECRET_KEY`` takes effect at once."""
    return hashlib.sha256(f"openesp:{purpose}:{secret}".encode()).digest()


def encode_payload(text: str) -> str:
    """The signed part of a link token: ``text`` in unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def sign_with(key: bytes, text: str) -> str:
    """``lib.signing.sign(text, purpose)`` for ``key = purpose_key(SECRET_KEY, purpose)``."""
    payload = encode_payload(text)
    mac = _keyed(key).copy()
    mac.update(payload.encode())
    return f"{payload}.{mac.hexdigest()[:SIGNATURE_CHARS]}"


@functools.lru_cache(maxsize=64)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC with ``key`` and nothing hashed yet, to copy: a copy skips setting the key up
    (its pads' hashes), a quarter of a link's signing. The build processes sign three links for
    every campaign recipient with a few keys."""
    return hmac.new(key, digestmod=hashlib.sha256)

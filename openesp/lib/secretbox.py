"""Encryption of customer secrets at rest (custom SMTP passwords, later webhook secrets).

MultiFernet with the newest key first: new values are encrypted with the newest key, old
values still decrypt with older keys, and `openesp rotatekeys` re-encrypts everything with
the newest key so that old keys can be retired.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
def _box() -> MultiFernet:
    keys = settings.OPENESP_ENCRYPTION_KEYS
    if not keys:
        raise RuntimeError("no encryption key is configured")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def reset_cache() -> None:
    _box.cache_clear()


def encrypt(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the stored secret cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    """The same secret, encrypted with the newest key."""
    try:
        return _box().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the stored secret cannot be decrypted with the configured keys") from None

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
import contextlib
import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from openesp.lib.linksign import SIGNATURE_CHARS, encode_payload
from openesp.lib.tokens import hashes_match, token_hash


class BadLink(ValueError):
    """Not a token of this form: malformed, or its text does not decode."""


def _signature(payload: str, purpose: str, bound_to: str) -> str:
    message = f"{payload}:{bound_to}" if bound_to else payload
    return token_hash(message, purpose)[:SIGNATURE_CHARS]


def sign(text: str, purpose: str, *, bound_to: str = "") -> str:
    """The token for ``text``, for ``purpose`` (and, if given, bound to ``bound_to``)."""
    payload = encode_payload(text)
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


_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.-]+\Z")
_MARK = "0openesp0token0"


@functools.lru_cache(maxsize=64)
def _around_token(name: str, urlconf: str | None, root: str, script_prefix: str) -> tuple[str, str]:
    before, _mark, after = reverse(name, args=[_MARK], urlconf=urlconf).partition(_MARK)
    return before, after


def link_path(name: str, token: str) -> str:
    """``reverse(name, args=[token])`` for the one-argument link routes (unsubscribe,
    preferences): the path around the token is reversed once and kept, because the delivery
    worker makes these links for every message it sends and ``reverse`` costs ~0.1 ms."""
    if not _SAFE_TOKEN.match(token):  # would be quoted: let reverse do it
        return reverse(name, args=[token])
    urls = getattr(_batch, "urls", None) or _url_context()
    before, after = _around_token(name, *urls)
    return before + token + after


def _url_context() -> tuple[str | None, str, str]:
    # What ``reverse`` reads of the thread: its URLconf and script prefix (asgiref locals, ~1 µs
    # each to read) and the site's root URLconf.
    return get_urlconf(), settings.ROOT_URLCONF, get_script_prefix()


_batch = threading.local()


@contextlib.contextmanager
def links_for_a_batch() -> Iterator[None]:
    """Within it, this thread's ``link_path`` calls read the URL context once, not per link: the
    delivery worker makes three links for each campaign message of a batch, and reading the
    context was a tenth of preparing one (docs/benchmarks.md, round 6)."""
    outer = getattr(_batch, "urls", None)
    _batch.urls = _url_context()
    try:
        yield
    finally:
        _batch.urls = outer

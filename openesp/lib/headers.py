"""Header values and addresses as text (RFC 5322), shared by accepting mail and building it.

Accepting a message (messaging) formats the To/Cc header it stores, and building it (delivery)
formats the rest; both must refuse the same injections, so the rule lives once, down here.
"""

from __future__ import annotations

from email.utils import formataddr


class HeaderInjection(ValueError):
    """A header name or value holds CR, LF or NUL."""


def check_header_value(name: str, value: str) -> None:
    if any(ch in value for ch in "\r\n\x00"):
        raise HeaderInjection(f"{name}: must not contain line breaks or NUL characters")


def format_address(email: str, name: str = "") -> str:
    check_header_value("address", email)
    check_header_value("name", name)
    # formataddr quotes specials and RFC 2047-encodes a non-ASCII display name.
    return formataddr((name, email), charset="utf-8") if name else email

"""The ``from`` of a campaign, an automation or a category message: one schema for all three.

One class per name: two ``SenderIn`` classes would share one OpenAPI component, and one route's
body would then be checked against the other's schema.
"""

from __future__ import annotations

from ninja import Schema


class SenderIn(Schema):
    email: str
    name: str = ""


class SenderOut(Schema):
    email: str
    name: str


def sender_of(given: str | SenderIn | None) -> tuple[str | None, str | None]:
    """(address, display name) of a ``from`` given as a string or an object; (None, None) if absent."""
    if given is None:
        return None, None
    if isinstance(given, str):
        return given, ""
    return given.email, given.name

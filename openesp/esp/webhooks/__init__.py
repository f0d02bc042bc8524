"""Provider events in: one module per provider (like ``esp/providers/``), each pure.

A module checks that a request really comes from its provider (``verify``: a signature or
credentials; ``Refused`` otherwise) and turns one event of the provider's batch into the one
shape openesp knows (``ProviderEvent``), or says why it cannot (``Malformed``: not an event we
can read; ``Ignored``: an event we have no use for, such as SendGrid's ``processed``). Nothing
here touches the database: the events app stores the batch first and processes it later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The normalised event types (the names of messaging's EventType values they become).
TYPES = ("delivered", "deferred", "bounced", "dropped", "opened", "clicked", "complained", "unsubscribed")
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_REPLY = re.compile(r"^\s*([245]\d\d)\b")


class Refused(Exception):
    """The request is not from the provider: no or a bad signature, a stale timestamp, wrong
    credentials, or the receiving side is not configured. Answered 401; nothing is stored."""


class Malformed(ValueError):
    """One event of a batch cannot be read; kept with this reason, the rest of the batch goes on."""


class Ignored(ValueError):
    """One event of a kind openesp does not record (kept with this reason, never processed)."""


@dataclass(frozen=True)
class ProviderEvent:
    provider: str  # "sendgrid", "mailjet", "mx"
    type: str  # one of TYPES
    message_ref: str  # our message's public id as text; "" when the event names none
    event_id: str  # the provider's id of this event (or what stands in for it): de-duplication
    occurred_at: datetime
    bounce: str = ""  # "hard" or "soft" for a bounce
    smtp_code: int | None = None
    enhanced_status: str = ""
    text: str = ""
    url: str = ""
    user_agent: str = ""
    ip: str = ""
    email: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # provider details worth keeping (classification)


def text_of(item: dict[str, Any], name: str, limit: int = 1000) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float | bool):
        raise Malformed(f"{name}: expected text")
    return str(value)[:limit]


def unix_time(item: dict[str, Any], name: str) -> datetime:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Malformed(f"{name}: expected a Unix time")
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed(f"{name}: expected a Unix time, got {str(value)[:40]!r}") from None


def smtp_code_in(text: str) -> int | None:
    match = _REPLY.match(text)
    return int(match.group(1)) if match else None


def enhanced_in(text: str) -> str:
    match = _ENHANCED.search(text)
    return match.group(1) if match else ""

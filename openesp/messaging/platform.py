"""The operator's Outbox: platform mail (verification, password reset, invitations) that no
provider can carry.

On a fresh install nothing is configured, yet people must be able to sign up: the operator reads
such mail, with its links, on the Outbox page instead of it being lost from sight in the queue.
Whether a provider carries a message is decided as delivery decides it, now
(``esp.effective.effective_provider`` of its sender and organization).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openesp.esp.effective import effective_provider
from openesp.messaging.models import DUE_STATUSES, Category, Message

PLATFORM_CATEGORIES = (Category.SYSTEM, Category.ORG_INVITATION, Category.WORKSPACE_INVITATION)
# The links in a platform mail's text: its templates write each on a line of its own.
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Waiting:
    message: Message
    links: list[str]
    reason: str  # why no provider carries it, as the effective provider says


def links_in(text: str) -> list[str]:
    """The http(s) links of a text, in order, without repeats or trailing punctuation."""
    found: list[str] = []
    for raw in _LINK.findall(text or ""):
        link = raw.rstrip(".,;:!?)")
        if link not in found:
            found.append(link)
    return found


def waiting_platform_mail(limit: int = 200) -> list[Waiting]:
    """Platform mail still due (queued or deferred) that no provider can carry, newest first."""
    rows = (
        Message.objects.filter(category__in=PLATFORM_CATEGORIES, status__in=DUE_STATUSES)
        .select_related("user", "organization")
        .order_by("-created_at", "-id")
    )
    reasons: dict[tuple[int | None, int | None], str | None] = {}
    waiting: list[Waiting] = []
    for message in rows.iterator():
        key = (message.user_id, message.organization_id)
        if key not in reasons:
            effective = effective_provider(message.user, message.organization)
            reasons[key] = effective.reason if effective.kind == "none" else None
        reason = reasons[key]
        if reason is not None:
            waiting.append(Waiting(message, links_in(message.text_body), reason))
            if len(waiting) >= limit:
                break
    return waiting

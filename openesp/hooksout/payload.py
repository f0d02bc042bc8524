"""The body of one webhook request: one event, in the shape docs/webhooks.md documents.

{"type": "message.delivered", "timestamp": "<ISO 8601>",
 "data": {"message_id", "email", "workspace_id", "category", "campaign_id",
          "smtp_code", "enhanced_status", "detail", "url"}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openesp.messaging.models import Event


@dataclass(frozen=True)
class MessageFacts:
    """What a webhook says about the message an event is about."""

    public_id: str
    email: str
    workspace_id: int
    category: str
    campaign_id: int | None


def event_type(event: Event) -> str:
    return f"message.{event.type}"


def body_for(event: Event, facts: MessageFacts) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    return render(
        event_type(event),
        event.created_at,
        {
            "message_id": facts.public_id,
            "email": facts.email,
            "workspace_id": facts.workspace_id,
            "category": facts.category,
            "campaign_id": facts.campaign_id,
            "smtp_code": event.smtp_code,
            "enhanced_status": event.enhanced_status or None,
            "detail": event.detail or None,
            "url": data.get("url") or None,
        },
    )


def render(type_: str, at: datetime, data: dict[str, Any]) -> str:
    # Compact and stable: the receiver verifies the signature over exactly these bytes.
    return json.dumps({"type": type_, "timestamp": at.isoformat(), "data": data}, separators=(",", ":"))

"""Mailjet's Event API: one event object, or an array of them when grouping is switched on.

Mailjet signs nothing; the endpoint URL carries HTTP Basic credentials
(``https://user:password@host/hooks/mailjet``) that we check. Our message is named by the
``CustomID`` we send (the Message-ID's ``<public id>@<domain>``) and by ``EventPayload``
(``openesp_message_id=<public id>;…``). Mailjet events have no id of their own: an event is
the same event when message, type and time (and for a click the URL) are the same.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Any

from openesp.esp.webhooks import (
    Ignored,
    Malformed,
    ProviderEvent,
    Refused,
    enhanced_in,
    smtp_code_in,
    text_of,
    unix_time,
)

PROVIDER = "mailjet"
_TYPES = {
    "sent": "delivered",  # Mailjet's "sent": the receiving server accepted it
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "blocked": "dropped",  # Mailjet would not send it (a known bad address, spam content)
    "spam": "complained",
    "unsub": "unsubscribed",
}


def verify(authorization: str, user: str, password: str) -> None:
    """Refused unless the Authorization header carries exactly the configured Basic credentials."""
    if not user or not password:
        raise Refused("Mailjet events are not accepted here: OPENESP_MAILJET_WEBHOOK_USER/_PASSWORD are not set")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Refused("missing HTTP Basic credentials")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("unreadable HTTP Basic credentials") from None
    if not hmac.compare_digest(given, f"{user}:{password}".encode()):
        raise Refused("wrong credentials")


def message_ref(item: dict[str, Any]) -> str:
    """Our public id from CustomID (``<id>@<domain>``), else from Payload (``openesp_message_id=…``).

    CustomID first: only openesp sets it. Payload also carries the sender's own metadata, whose
    values could spell a second ``openesp_message_id=`` naming somebody else's message; it is
    believed only when it names exactly one.
    """
    custom = text_of(item, "CustomID", 200).partition("@")[0]
    try:
        return str(uuid.UUID(custom))
    except ValueError:
        pass
    payload = text_of(item, "Payload", 2000)
    named = [
        v.strip() for n, _, v in (p.partition("=") for p in payload.split(";")) if n.strip() == "openesp_message_id"
    ]
    return named[0][:100] if len(named) == 1 else ""


def event_id(item: Any) -> str:
    """Mailjet has no event id: the message, the type and the time (and a click's URL) stand in."""
    if not isinstance(item, dict):
        return ""
    kind = str(item.get("event", ""))[:40]
    message = str(item.get("MessageID") or item.get("Message_GUID") or message_ref(item))[:64]
    if not message or not kind:
        return ""  # malformed: processing says why
    url = str(item.get("url", ""))[:2000] if kind == "click" else ""
    return f"{message}:{kind}:{item.get('time')}" + (f":{url}" if url else "")


def parse(item: Any) -> ProviderEvent:
    if not isinstance(item, dict):
        raise Malformed("an event must be a JSON object")
    kind = text_of(item, "event", 40)
    if not kind:
        raise Malformed("event: missing")
    if kind not in _TYPES:
        raise Ignored(f"event {kind!r} is not recorded")
    occurred_at = unix_time(item, "time")
    ref = message_ref(item)
    mailjet_id = text_of(item, "MessageID", 40) or text_of(item, "Message_GUID", 64)
    if not ref and not mailjet_id:
        raise Malformed("names no message: no CustomID, Payload or MessageID")
    url = text_of(item, "url", 2000)
    detail = " ".join(
        t for t in (text_of(item, "smtp_reply"), text_of(item, "error_related_to", 40), text_of(item, "error"),
                    text_of(item, "comment")) if t
    )  # fmt: skip
    bounce = ""
    if kind == "bounce":
        bounce = "hard" if item.get("hard_bounce") in (True, "true", 1) else "soft"
    return ProviderEvent(
        provider=PROVIDER,
        type=_TYPES[kind],
        message_ref=ref,
        event_id=event_id(item),
        occurred_at=occurred_at,
        bounce=bounce,
        smtp_code=smtp_code_in(text_of(item, "smtp_reply")),
        enhanced_status=enhanced_in(detail),
        text=detail[:1000],
        url=url,
        user_agent=text_of(item, "agent", 500),
        ip=text_of(item, "ip", 64),
        email=text_of(item, "email", 320),
        extra={"error_related_to": text_of(item, "error_related_to", 40)} if item.get("error_related_to") else {},
    )

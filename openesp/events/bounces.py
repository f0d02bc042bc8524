"""A bounce mail stored by the MX as the provider-neutral events it stands for.

The VERP recipient names the message (its HMAC checked again: the row may be old); the DSN or
ARF report says what happened. A mail whose reports name several recipients speaks for the one
message its VERP address names: the first failed recipient, else the first report.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from openesp.esp.webhooks import Malformed, ProviderEvent
from openesp.events.dsn import read_bounce
from openesp.events.verp import read

_TYPES = {"failed": "bounced", "delayed": "deferred", "complaint": "complained"}


def mail_events(payload: Any) -> list[ProviderEvent]:
    if not isinstance(payload, dict) or not isinstance(payload.get("mail"), str):
        raise Malformed("not a stored mail")
    public_id = read(str(payload.get("rcpt", "")))
    if public_id is None:
        raise Malformed(f"{payload.get('rcpt')!r} is not a valid bounce address")
    raw = payload["mail"].encode("latin-1")
    reports = read_bounce(raw)
    if not reports:
        return []
    report = next((r for r in reports if r.kind == "failed"), reports[0])
    return [
        ProviderEvent(
            provider="mx",
            type=_TYPES[report.kind],
            message_ref=str(public_id),
            event_id=hashlib.sha256(raw).hexdigest(),
            occurred_at=datetime.now(UTC),
            bounce="soft" if report.status.startswith("4") else "hard",
            smtp_code=report.smtp_code,
            enhanced_status=report.status,
            text=report.diagnostic,
            email=report.recipient,
            extra={"report": report.source, **({"action": report.action} if report.action else {})},
        )
    ]

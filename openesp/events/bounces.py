"""A bounce mail stored by the MX, or fetched from a bounce mailbox, as the provider-neutral
events it stands for.

The VERP recipient names the message (its HMAC checked again: the row may be old); the DSN or
ARF report says what happened. A mail whose reports name several recipients speaks for the one
message its VERP address names: the first failed recipient, else the first report.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from openesp.esp.webhooks import Malformed, ProviderEvent
from openesp.events.dsn import BounceReport, read_bounce
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
    return [_event("mx", reports, str(public_id), raw, {})]


def _event(provider: str, reports: list[BounceReport], ref: str, raw: bytes, extra: dict[str, str]) -> ProviderEvent:
    report = next((r for r in reports if r.kind == "failed"), reports[0])
    return ProviderEvent(
        provider=provider,
        type=_TYPES[report.kind],
        message_ref=ref,
        event_id=hashlib.sha256(raw).hexdigest(),
        occurred_at=datetime.now(UTC),
        bounce="soft" if report.status.startswith("4") else "hard",
        smtp_code=report.smtp_code,
        enhanced_status=report.status,
        text=report.diagnostic,
        email=report.recipient,
        extra={"report": report.source, **({"action": report.action} if report.action else {}), **extra},
    )


def imap_mail_events(payload: Any) -> list[ProviderEvent]:
    """A bounce fetched from a configuration's bounce mailbox: the message is named by a VERP
    address of ours anywhere in the mail (a forged one names nothing, and nothing else is
    tried), else by our Message-ID quoted in it (In-Reply-To, References, the returned
    headers). ``extra`` carries the mailbox's config and how the message was found: the
    processor accepts only a message sent through that config, and for a Message-ID match only
    one to the address the report is about (``process._accepts``)."""
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("mail"), str)
        or not isinstance(payload.get("config"), int)
    ):
        raise Malformed("not a stored mail from a bounce mailbox")
    raw = payload["mail"].encode("latin-1")
    reports = read_bounce(raw)
    if not reports:
        return []
    ref, matched_by = _reference(payload["mail"])
    return [_event("imap", reports, ref, raw, {"config": str(payload["config"]), "matched_by": matched_by})]


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _reference(text: str) -> tuple[str, str]:
    """The public id the mail names and how ("verp", "message-id"); ("", "none") for none."""
    domain = settings.OPENESP_BOUNCE_DOMAIN
    if domain:
        candidates = re.findall(rf"b\+[0-9a-f]{{32}}\.[0-9a-f]{{16}}@{re.escape(domain)}\b", text, re.IGNORECASE)
        for candidate in candidates:
            public_id = read(candidate)
            if public_id is not None:
                return str(public_id), "verp"
        if candidates:
            return "", "forged-verp"  # a forged VERP address changes nothing
    found = re.search(rf"<({_UUID})@{re.escape(settings.OPENESP_MAIL_DOMAIN)}>", text, re.IGNORECASE)
    if found:
        return found.group(1).lower(), "message-id"
    return "", "none"

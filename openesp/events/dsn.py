"""Bounce mail read: RFC 3464 delivery status notifications, RFC 5965 complaints, and the rest.

Pure: bytes in, reports out. A DSN's ``message/delivery-status`` part is read with the standard
library (``Action``, ``Status``, ``Diagnostic-Code``, ``Final-Recipient`` per recipient); an ARF
report (``message/feedback-report``) is a complaint; bounce mail in neither form (older Exim and
qmail, some appliances) goes to ``flufl.bounce``'s detectors, which find the failed addresses
but no status: those count as ``5.0.0`` (permanent) or ``4.0.0`` (temporary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
_DIAGNOSTIC = re.compile(r"^\s*(?:smtp|x-[a-z-]+)\s*;\s*(.*)$", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(r"^\s*([245]\d\d)\b")
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True)
class BounceReport:
    kind: str  # "failed", "delayed" or "complaint"
    recipient: str  # the address the report is about ("" when it does not say)
    status: str = ""  # enhanced status, "5.1.1"
    smtp_code: int | None = None
    diagnostic: str = ""
    action: str = ""
    source: str = "dsn"  # "dsn", "arf" or "fallback"


def read_bounce(raw: bytes) -> list[BounceReport]:
    """What a bounce mail says, one report per recipient; [] for mail that is no bounce."""
    mail = message_from_bytes(raw, policy=policy.compat32)
    complaint = _arf(mail)
    if complaint is not None:
        return [complaint]
    reports = _dsn(mail)
    if reports:
        return reports
    return _fallback(mail)


def _parts(mail: Message) -> list[Message]:
    return [part for part in mail.walk()]


def _text(value: object) -> str:
    return " ".join(str(value or "").split())


def _address(value: object) -> str:
    # "rfc822; someone@example.org" → someone@example.org
    text = _text(value)
    return text.partition(";")[2].strip().strip("<>") if ";" in text else text.strip("<>")


def _dsn(mail: Message) -> list[BounceReport]:
    for part in _parts(mail):
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # a part the parser left as text: read its header blocks
            blocks = [HeaderParser().parsestr(b) for b in re.split(r"\r?\n\r?\n", blocks.strip()) if b.strip()]
        reports = [_recipient(block) for block in list(blocks)[1:] if isinstance(block, Message)]
        found = [r for r in reports if r is not None]
        if found:
            return found
    return []


def _recipient(block: Message) -> BounceReport | None:
    action = _text(block.get("Action")).lower()
    recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
    if not action and not recipient:
        return None
    diagnostic = _text(block.get("Diagnostic-Code"))
    match = _DIAGNOSTIC.match(diagnostic)
    reply = match.group(1).strip() if match else diagnostic
    code = _CODE.match(reply)
    status = _STATUS.match(_text(block.get("Status")))
    enhanced = ".".join(status.groups()) if status else ""
    if not enhanced:
        found = _ENHANCED.search(reply)
        enhanced = found.group(1) if found else ("4.0.0" if action == "delayed" else "5.0.0")
    kind = "delayed" if action in ("delayed", "relayed", "delivered", "expanded") else "failed"
    if action in ("delivered", "relayed", "expanded"):
        return None  # a success notice, not a bounce
    return BounceReport(
        kind=kind,
        recipient=recipient,
        status=enhanced,
        smtp_code=int(code.group(1)) if code else None,
        diagnostic=reply[:1000],
        action=action,
    )


def _arf(mail: Message) -> BounceReport | None:
    for part in _parts(mail):
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields: Message
        if isinstance(payload, list) and isinstance(payload[0], Message):  # parsed as an embedded message
            fields = payload[0]
        else:
            body = part.get_payload(decode=True)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(payload)
            fields = HeaderParser().parsestr(text)
        feedback = _text(fields.get("Feedback-Type")).lower() or "abuse"
        recipient = _address(fields.get("Original-Rcpt-To") or fields.get("Removal-Recipient"))
        return BounceReport(
            kind="complaint",
            recipient=recipient,
            diagnostic=f"feedback report: {feedback}"
            + (f" from {_text(fields.get('Reporting-MTA'))}" if fields.get("Reporting-MTA") else ""),
            source="arf",
        )
    return None


def _fallback(mail: Message) -> list[BounceReport]:
    temporary, permanent = all_failures(mail)
    reports = [
        BounceReport(kind="failed", recipient=_decoded(a), status="5.0.0", diagnostic=_summary(mail), source="fallback")
        for a in sorted(permanent)
    ]
    reports += [
        BounceReport(
            kind="delayed", recipient=_decoded(a), status="4.0.0", diagnostic=_summary(mail), source="fallback"
        )
        for a in sorted(temporary - permanent)
    ]
    return reports


def _decoded(address: bytes | str) -> str:
    return address.decode("utf-8", "replace") if isinstance(address, bytes) else address


def _summary(mail: Message) -> str:
    return f"non-standard bounce: {_text(mail.get('Subject'))[:200]}"

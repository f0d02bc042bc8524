"""``POST /v3/mail/send`` bodies → openesp submissions: one per personalization.

Each personalization becomes one native body (``parse_submission``'s input): its to, cc and bcc
(each recipient a Message), and its from (SendGrid allows one per personalization), subject,
headers, ``custom_args`` and ``send_at`` over the message-level ones, its ``substitutions``
applied to the content, or its ``dynamic_template_data`` as the context of ``template_id``.
Categories become the messages' tags and custom args their metadata: neither is a header of the delivered mail.
``mail_settings.sandbox_mode`` is openesp's sandbox; ``tracking_settings``' ``open_tracking``
and ``click_tracking`` switches are the messages' tracking choice (one not given: the
workspace's default); ``asm``, ``ip_pool_name`` and the other settings are kept with the send
(``CompatSend.settings``), not acted on. ``reply_to_list``: its first address is the Reply-To (a
message has one).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from openesp.compat.accept import Item
from openesp.compat.auth import Sender
from openesp.compat.templating import render
from openesp.lib.errors import FieldProblem, InvalidInput

API = "sendgrid"
KEPT = ("tracking_settings", "asm", "ip_pool_name")


def _address(raw: dict[str, Any]) -> dict[str, str]:
    return {"email": raw["email"], "name": raw.get("name") or ""}


def _when(unix: int | None) -> datetime | None:
    return datetime.fromtimestamp(unix, UTC) if unix is not None else None


def _substitute(text: str, substitutions: dict[str, Any]) -> str:
    for tag, value in substitutions.items():
        text = text.replace(tag, str(value))
    return text


def _content(payload: dict[str, Any]) -> tuple[str, str]:
    text = html = ""
    for part in payload.get("content") or []:
        kind = part["type"].split(";")[0].strip().lower()
        if kind == "text/plain" and not text:
            text = part["value"]
        elif kind == "text/html" and not html:
            html = part["value"]
    return text, html


def _attachments(payload: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for item in payload.get("attachments") or []:
        attachment = {"filename": item["filename"], "content": item["content"], "type": item.get("type") or ""}
        if item.get("content_id"):
            attachment["content_id"] = item["content_id"]
        out.append(attachment)
    return out


def _kept(payload: dict[str, Any]) -> dict[str, Any]:
    kept = {name: payload[name] for name in KEPT if name in payload}
    other_settings = {k: v for k, v in (payload.get("mail_settings") or {}).items() if k != "sandbox_mode"}
    if other_settings:
        kept["mail_settings"] = other_settings
    return kept


def _tracking(payload: dict[str, Any]) -> dict[str, bool]:
    """``tracking_settings``' open and click switches as openesp's tracking choice (one left
    out: the workspace's default)."""
    settings = payload.get("tracking_settings") or {}
    chosen: dict[str, bool] = {}
    for name, ours in (("open_tracking", "opens"), ("click_tracking", "clicks")):
        enable = (settings.get(name) or {}).get("enable")
        if isinstance(enable, bool):
            chosen[ours] = enable
    return chosen


def items(sender: Sender, payload: dict[str, Any]) -> list[Item]:
    """The native bodies of a schema-checked body; InvalidInput with SendGrid's field paths
    (``template_id`` for a template that cannot be rendered)."""
    text, html = _content(payload)
    reply_to = payload.get("reply_to") or (payload.get("reply_to_list") or [None])[0]
    sandbox = bool(((payload.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"))
    attachments = _attachments(payload)
    kept = _kept(payload)
    template_id = payload.get("template_id")
    found: list[Item] = []
    for personalization in payload["personalizations"]:
        subject = personalization.get("subject") or payload.get("subject") or ""
        body_text, body_html = text, html
        if template_id not in (None, ""):
            data = personalization.get("dynamic_template_data") or {}
            rendered = render(sender, template_id, data, _address(personalization["to"][0]), "template_id")
            subject = rendered.subject or subject
            body_text, body_html = rendered.text, rendered.html
        elif personalization.get("substitutions"):
            substitutions = personalization["substitutions"]
            subject = _substitute(subject, substitutions)
            body_text, body_html = _substitute(text, substitutions), _substitute(html, substitutions)
        send_at = personalization.get("send_at", payload.get("send_at"))
        body: dict[str, Any] = {
            "from": _address(personalization.get("from") or payload["from"]),
            "to": [_address(a) for a in personalization.get("to") or []],
            "cc": [_address(a) for a in personalization.get("cc") or []],
            "bcc": [_address(a) for a in personalization.get("bcc") or []],
            "subject": subject,
            "text": body_text,
            "html": body_html,
            "headers": {**(payload.get("headers") or {}), **(personalization.get("headers") or {})},
            "attachments": attachments,
            "tags": list(payload.get("categories") or []),
            "metadata": {**(payload.get("custom_args") or {}), **(personalization.get("custom_args") or {})},
            "sandbox": sandbox,
            "tracking": _tracking(payload),
        }
        if reply_to:
            body["reply_to"] = _address(reply_to)
        if send_at is not None:
            body["send_at"] = _when(send_at)
        found.append(Item(data=body, api=API, batch_id=payload.get("batch_id") or "", kept=kept))
    return found


_INDEXED = re.compile(r"^(to|cc|bcc)\[(\d+)\](.*)$")


def field_of(native: str, index: int, personalization: dict[str, Any]) -> str:
    """SendGrid's path for a native field of personalization ``index``'s submission."""
    where = f"personalizations.{index}"
    match = _INDEXED.match(native)
    if match:
        return f"{where}.{match.group(1)}.{match.group(2)}"
    head, _dot, rest = native.partition(".")
    if head in ("to", "cc", "bcc"):
        return f"{where}.{head}"
    if head == "from" and personalization.get("from"):
        return f"{where}.from"
    if head == "subject":
        return f"{where}.subject" if personalization.get("subject") else "subject"
    if head == "headers":
        return f"{where}.headers.{rest}" if rest in (personalization.get("headers") or {}) else f"headers.{rest}"
    if head == "text" or head == "html":
        return "content"
    if head.startswith("attachments["):
        return "attachments." + head[len("attachments[") : -1] + (f".{rest}" if rest else "")
    if head == "tags":
        return "categories"
    if head == "metadata":
        return f"{where}.custom_args" if personalization.get("custom_args") else "custom_args"
    if head == "send_at":
        return f"{where}.send_at" if "send_at" in personalization else "send_at"
    return head


def in_sendgrid_terms(exc: InvalidInput, index: int, personalization: dict[str, Any]) -> list[FieldProblem]:
    return [FieldProblem(field_of(p.field, index, personalization), p.reason) for p in exc.problems]

"""``POST /v3.1/send`` bodies → openesp submissions, and the answers in Mailjet's shape.

``Globals`` is merged into every message (the message's own values win; ``Headers`` and
``Variables`` are merged key by key), as Mailjet does and as anymail's Mailjet backend relies
on. ``TemplateID`` names an openesp template, rendered with ``Variables``; without one,
``TemplateLanguage`` fills Mailjet's ``{{var:name}}`` and ``{{var:name:"default"}}`` in the
parts. ``CustomID`` and ``EventPayload`` become the messages' metadata, ``CustomCampaign`` a tag;
``TrackOpens`` / ``TrackClicks`` (``enabled``, ``disabled``; ``account_default`` leaves the
workspace's default) are the messages' tracking choice; the campaign settings are kept with
the send, not acted on.

Each message is checked on its own: a refused one answers ``{"Status": "error", "Errors": […]}``
(``ErrorCode``, ``ErrorMessage``, ``ErrorRelatedTo`` in Mailjet's field spelling) and the others
are still sent; the answer is then 400, as Mailjet's.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.conf import settings

from openesp.compat.accept import Item
from openesp.compat.auth import Sender
from openesp.compat.templating import render
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.models import Message

API = "mailjet"
MAX_MESSAGES = 50
MERGED = ("Headers", "Variables")
KEPT = ("TrackOpens", "TrackClicks", "CustomCampaign", "DeduplicateCampaign", "MonitoringCategory", "URLTags",
        "Priority")  # fmt: skip
_VAR = re.compile(r"\{\{\s*var:([A-Za-z0-9_]+)(?::\"([^\"]*)\")?\s*\}\}")
# Codes as Mailjet's: a missing part, an address, a type; a sender the key may not use.
MISSING, BAD_ADDRESS, TYPE, NOT_AUTHORIZED, TEMPLATE = "send-0003", "mj-0013", "mj-0004", "send-0008", "send-0011"


def error(code: str, message: str, related: list[str], status: int = 400) -> dict[str, Any]:
    return {
        "ErrorIdentifier": str(uuid.uuid4()),
        "ErrorCode": code,
        "StatusCode": status,
        "ErrorMessage": message,
        "ErrorRelatedTo": related,
    }


class Refusal(Exception):
    """A message refused before it could be parsed: its Mailjet errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(e["ErrorMessage"] for e in errors))


def merged(globals_: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    out = {**globals_, **message}
    for name in MERGED:
        if isinstance(globals_.get(name), dict) and isinstance(message.get(name), dict):
            out[name] = {**globals_[name], **message[name]}
    return out


def _address(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("Email"), str):
        raise Refusal([error(BAD_ADDRESS, f'Type mismatch. Expected an object with "Email" for {where}.', [where])])
    return {"email": raw["Email"], "name": raw.get("Name") or ""}


def _addresses(message: dict[str, Any], kind: str) -> list[dict[str, str]]:
    raw = message.get(kind)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Refusal([error(TYPE, f'Type mismatch. Expected type "array of emails" for {kind}.', [kind])])
    return [_address(item, f"{kind}[{i}]") for i, item in enumerate(raw)]


def _string(message: dict[str, Any], name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal([error(TYPE, f'Type mismatch. Expected type "string" for {name}.', [name])])
    return value


def _attachments(message: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for kind in ("Attachments", "InlinedAttachments"):
        raw = message.get(kind) or []
        for i, item in enumerate(raw if isinstance(raw, list) else [None]):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("Filename", "Base64Content")
            ):
                raise Refusal([error(TYPE, f"{kind}[{i}] needs Filename and Base64Content", [f"{kind}[{i}]"])])
            attachment = {"filename": item["Filename"], "content": item["Base64Content"],
                          "type": str(item.get("ContentType") or "")}  # fmt: skip
            if kind == "InlinedAttachments":
                attachment["content_id"] = str(item.get("ContentID") or item["Filename"])
            out.append(attachment)
    return out


def _fill_vars(text: str, variables: dict[str, Any]) -> str:
    return _VAR.sub(lambda m: str(variables.get(m.group(1), m.group(2) or "")), text)


# TrackOpens / TrackClicks: "enabled", "disabled", or "account_default" (the workspace's default).
_TRACK = {"enabled": True, "disabled": False}


def _tracking(message: dict[str, Any]) -> dict[str, bool]:
    chosen: dict[str, bool] = {}
    for name, ours in (("TrackOpens", "opens"), ("TrackClicks", "clicks")):
        value = message.get(name)
        if isinstance(value, str) and value.lower() in _TRACK:
            chosen[ours] = _TRACK[value.lower()]
    return chosen


def item(sender: Sender, message: dict[str, Any], sandbox: bool) -> Item:
    """The native body of one (merged) message; Refusal with Mailjet errors, or InvalidInput
    naming ``TemplateID``."""
    subject, text, html = _string(message, "Subject"), _string(message, "TextPart"), _string(message, "HTMLPart")
    variables = message.get("Variables") or {}
    if not isinstance(variables, dict):
        raise Refusal([error(TYPE, 'Type mismatch. Expected type "object" for Variables.', ["Variables"])])
    to = _addresses(message, "To")
    if message.get("TemplateID") not in (None, "", 0):
        rendered = render(sender, message["TemplateID"], variables, to[0] if to else {}, "TemplateID")
        subject, text, html = subject or rendered.subject, rendered.text, rendered.html
    elif message.get("TemplateLanguage"):
        subject, text, html = (_fill_vars(part, variables) for part in (subject, text, html))
    headers = message.get("Headers") or {}
    if not isinstance(headers, dict):
        raise Refusal([error(TYPE, 'Type mismatch. Expected type "object" for Headers.', ["Headers"])])
    metadata: dict[str, str] = {}
    for name in ("CustomID", "EventPayload"):
        value = message.get(name)
        if value not in (None, ""):
            metadata[name] = value if isinstance(value, str) else json.dumps(value)
    data: dict[str, Any] = {
        "from": _address(message.get("From"), "From") if "From" in message else None,
        "to": to,
        "cc": _addresses(message, "Cc"),
        "bcc": _addresses(message, "Bcc"),
        "subject": subject,
        "text": text,
        "html": html,
        "headers": {str(k): str(v) for k, v in headers.items()},
        "attachments": _attachments(message),
        "metadata": metadata,
        "tags": [message["CustomCampaign"]] if isinstance(message.get("CustomCampaign"), str) else [],
        "sandbox": sandbox,
        "tracking": _tracking(message),
    }
    if message.get("ReplyTo"):
        data["reply_to"] = _address(message["ReplyTo"], "ReplyTo")
    kept = {name: message[name] for name in KEPT if name in message}
    return Item(data=data, api=API, kept=kept)


_INDEXED = re.compile(r"^(to|cc|bcc)\[(\d+)\]")
_NAMES = {"from": "From", "reply_to": "ReplyTo", "subject": "Subject", "text": "TextPart", "html": "HTMLPart",
          "tags": "CustomCampaign", "metadata": "CustomID"}  # fmt: skip


def errors_of(exc: InvalidInput, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Mailjet's errors for the native parser's problems with one message."""
    return [_error_of(p, message) for p in exc.problems]


def _error_of(p: FieldProblem, message: dict[str, Any]) -> dict[str, Any]:
    head = p.field.split(".")[0]
    match = _INDEXED.match(p.field)
    if match:
        return error(BAD_ADDRESS, p.reason, [f"{match.group(1).capitalize()}[{match.group(2)}].Email"])
    if head in ("from", "reply_to"):
        code = MISSING if p.reason == "is required" else BAD_ADDRESS
        return error(code, p.reason, [f"{_NAMES[head]}.Email"])
    if head in ("to", "cc", "bcc"):
        return error(MISSING, f'At least "To" must be provided and contain one recipient ({p.reason}).', ["To"])
    if head == "text":
        return error(MISSING, 'At least "HTMLPart", "TextPart" or "TemplateID" must be provided.',
                     ["HTMLPart", "TextPart", "TemplateID"])  # fmt: skip
    if head == "subject":
        return error(MISSING, f'"Subject": {p.reason}.', ["Subject"])
    if head == "headers":
        return error(TYPE, p.reason, [f"Headers.{p.field.partition('.')[2]}"])
    if head.startswith("attachments["):
        position = int(head[len("attachments[") : -1])
        plain = len(message.get("Attachments") or [])
        where = f"Attachments[{position}]" if position < plain else f"InlinedAttachments[{position - plain}]"
        return error(TYPE, p.reason, [where])
    if head == "attachments":
        return error(TYPE, p.reason, ["Attachments"])
    return error(TYPE, p.reason, [_NAMES.get(head, head)])


def success(message: dict[str, Any], written: list[Message]) -> dict[str, Any]:
    """A sent message's entry: one per recipient under To, Cc and Bcc with its ids."""
    counts = [len(message.get(kind) or []) for kind in ("To", "Cc", "Bcc")]
    base = settings.OPENESP_BASE_URL.rstrip("/")

    def entry(m: Message) -> dict[str, Any]:
        # MessageID is the integer Mailjet clients expect; the href is openesp's own read route.
        return {"Email": m.to_email, "MessageUUID": str(m.public_id), "MessageID": m.pk,
                "MessageHref": f"{base}/api/v1/messages/{m.public_id}"}  # fmt: skip

    to, cc = written[: counts[0]], written[counts[0] : counts[0] + counts[1]]
    bcc = written[counts[0] + counts[1] :]
    return {
        "Status": "success",
        "CustomID": message.get("CustomID") or "",
        "To": [entry(m) for m in to],
        "Cc": [entry(m) for m in cc],
        "Bcc": [entry(m) for m in bcc],
    }

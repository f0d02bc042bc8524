"""Mailjet's ``POST /v3.1/send``: up to 50 messages, each sent or refused on its own.

Answers as Mailjet's: 200 with a ``Status`` per message and the ids of each recipient; 400 when
any message was refused (the others are sent); errors of the request itself (authentication,
JSON, ``Messages``) as one Mailjet error object. ``Idempotency-Key`` is honoured as
``POST /api/v1/messages`` honours it (``messaging.idempotency.commit_once``): a repeat answers
the first answer and queues nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from openesp.compat import accept, mailjet
from openesp.compat.auth import AuthFailed, Refused, Sender, TooMany, authenticate
from openesp.lib.errors import InvalidInput
from openesp.messaging.idempotency import commit_once, first_answer, request_fingerprint

logger = logging.getLogger(__name__)
AUTH_FAILED = (
    "API key authentication/authorization failure. You may be unauthorized to access the API or your API key may "
    "be expired. Visit API keys management section to check your keys."
)


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _one(status: int, code: str, message: str, related: list[str] | None = None) -> HttpResponse:
    body = mailjet.error(code, message, related or [], status)
    return _json(status, body)


@csrf_exempt
def send(request: HttpRequest) -> HttpResponse:
    try:
        return _send(request)
    except Exception:
        # A fault of ours is a 500 in Mailjet's shape, not an HTML page; nothing was committed.
        logger.exception("Mailjet-compatible error on %s %s", request.method, request.path)
        return _one(500, "mj-0001", "an internal error occurred")


def _send(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = _one(405, "mj-0001", f"{request.method} is not allowed here")
        response["Allow"] = "POST"
        return response
    try:
        sender = authenticate(request)
    except AuthFailed:
        return _one(401, "mj-0002", AUTH_FAILED)
    except Refused as exc:
        return _one(403, "mj-0002", str(exc))
    except TooMany as exc:
        response = _one(429, "mj-0002", str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    try:
        payload = json.loads(request.body or b"null")
    except RequestDataTooBig:
        return _one(413, "mj-0031", "the request body is too large")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _one(400, "mj-0031", "Invalid json input")
    messages = payload.get("Messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not messages:
        return _one(400, "mj-0003", 'Missing mandatory property "Messages".', ["Messages"])
    if len(messages) > mailjet.MAX_MESSAGES:
        return _one(400, "mj-0004", f"Messages: at most {mailjet.MAX_MESSAGES} messages per call.", ["Messages"])
    globals_ = payload.get("Globals") or {}
    if not isinstance(globals_, dict):
        return _one(400, "mj-0004", 'Type mismatch. Expected type "object" for Globals.', ["Globals"])
    key = (request.headers.get("Idempotency-Key") or "").strip()[:255] or None
    try:
        answer = _send_once(sender, payload, messages, globals_, key)
    except InvalidInput as exc:  # a key reused with another request
        return _one(400, "mj-0004", str(exc), ["Idempotency-Key"])
    failed = any(entry.get("Status") == "error" for entry in answer["Messages"])
    return _json(400 if failed else 200, answer)


def _send_once(
    sender: Sender, payload: dict[str, Any], messages: list[Any], globals_: dict[str, Any], key: str | None
) -> dict[str, Any]:
    fingerprint = request_fingerprint({"mailjet": payload, "workspace": sender.key.workspace_id})
    if key is not None:
        first = first_answer(sender.owner, key, fingerprint)
        if first is not None:
            return first.body
    sandbox = bool(payload.get("SandboxMode"))
    senders = accept.Senders(sender)
    entries: list[dict[str, Any]] = []
    accepted: list[tuple[int, dict[str, Any], accept.Item, Any]] = []
    for position, raw in enumerate(messages):
        if not isinstance(raw, dict):
            entries.append({"Status": "error", "Errors": [mailjet.error("mj-0003", "Message must be an object.", [])]})
            continue
        message = mailjet.merged(globals_, raw)
        try:
            item = mailjet.item(sender, message, sandbox)
            accepted.append((position, message, item, accept.check(senders, item)))
            entries.append({})  # filled in once the messages exist
        except mailjet.Refusal as exc:
            entries.append({"Status": "error", "Errors": exc.errors})
        except InvalidInput as exc:
            errors = mailjet.errors_of(exc, message)
            if exc.problems and exc.problems[0].field == "TemplateID":
                errors = [mailjet.error(mailjet.TEMPLATE, exc.problems[0].reason, ["TemplateID"])]
            entries.append({"Status": "error", "Errors": errors})
        except accept.SenderRefused as exc:
            error = mailjet.error(mailjet.NOT_AUTHORIZED, f"not an authorized sender: {exc}", ["From.Email"])
            entries.append({"Status": "error", "Errors": [error]})

    def write() -> tuple[dict[str, Any], bool]:
        written = accept.queue(sender, [(item, submission) for _p, _m, item, submission in accepted], {})
        for (position, message, _item, _submission), rows in zip(accepted, written, strict=True):
            entries[position] = mailjet.success(message, rows)
        return {"Messages": entries}, bool(accepted)

    # write runs inside commit_once's transaction, with the idempotency record: links and all.
    return commit_once(sender.owner, key, fingerprint, write).body

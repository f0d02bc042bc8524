"""Checking a ``POST /v3/mail/send`` body as SendGrid does: its published schema (vendored in
``schemas/``, see the README there) and the cross-field rules the schema cannot express.

Each problem is SendGrid's error object, ``{"message", "field", "help"}``, with ``field`` the
JSON path at fault in SendGrid's spelling (``personalizations.0.to``; ``None`` for the body).
"""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parent / "schemas" / "sendgrid-mail-v3.openapi.json"
_BODY_POINTER = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
MAX_RECIPIENTS = 1000
MAX_BYTES = 30 * 1024 * 1024
MAX_SEND_AHEAD = 72 * 3600
HELP = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send"


@cache
def validator() -> Draft202012Validator:
    """The body validator from SendGrid's schema; the top-level ``custom_args`` is checked as the
    object of strings that SendGrid takes (the description types it ``string``: a known defect),
    and ``template_id`` may be a number (openesp's template ids are)."""
    spec = copy.deepcopy(json.loads(SPEC.read_text(encoding="utf-8")))
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    body["properties"]["custom_args"] = dict(string_map)
    body["properties"]["personalizations"]["items"]["properties"]["custom_args"] = dict(string_map)
    # An openesp template id is a number; clients send it as a number or a string (issue 12).
    body["properties"]["template_id"] = {"type": ["string", "integer"]}
    uri = "urn:openesp:sendgrid-mail-v3"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": uri + _BODY_POINTER}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def problem(message: str, field: str | None) -> dict[str, Any]:
    return {"message": message, "field": field, "help": None}


def _path(parts: Any) -> str | None:
    found = [str(p) for p in parts]
    return ".".join(found) if found else None


def problems(payload: Any) -> list[dict[str, Any]]:
    """SendGrid's error objects for a body (its size, under ``MAX_BYTES``, is the caller's
    check: it answers 413); empty when the body is acceptable."""
    found = [
        problem(_message(error), _path(error.absolute_path))
        for error in sorted(validator().iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    if found or not isinstance(payload, dict):
        return found
    return _cross_field(payload)


def _message(error: Any) -> str:
    # jsonschema's messages quote the whole offending value; a 30 MB attachment must not come back.
    text = str(error.message)
    return text if len(text) <= 300 else text[:297] + "..."


def _cross_field(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    total = 0
    limit = time.time() + MAX_SEND_AHEAD
    for index, personalization in enumerate(payload.get("personalizations") or []):
        if not personalization.get("to"):
            found.append(
                problem(
                    "The to array is required for all personalization objects, and must have at least one "
                    "email object with a valid email address.",
                    f"personalizations.{index}.to",
                )
            )
        seen: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            for recipient in personalization.get(kind) or []:
                total += 1
                address = str(recipient.get("email", "")).lower()
                if address in seen:
                    found.append(
                        problem(
                            "Each email address in the personalization block should be unique between to, cc, "
                            f"and bcc. We found the first duplicate instance of [{address}] in the "
                            f"personalizations.{index}.{kind} field.",
                            f"personalizations.{index}.{kind}",
                        )
                    )
                seen.add(address)
        send_at = personalization.get("send_at")
        if isinstance(send_at, int) and send_at > limit:
            found.append(
                problem("send_at can not be more than 72 hours in the future", f"personalizations.{index}.send_at")
            )
    if not payload.get("personalizations"):
        found.append(problem("The personalizations field is required and must have at least one personalization.",
                             "personalizations"))  # fmt: skip
    if total > MAX_RECIPIENTS:
        found.append(
            problem(f"The total number of recipients must be no more than {MAX_RECIPIENTS}.", "personalizations")
        )
    if "reply_to" in payload and "reply_to_list" in payload:
        found.append(problem("reply_to and reply_to_list cannot be used together.", "reply_to_list"))
    if not payload.get("content") and payload.get("template_id") in (None, ""):
        found.append(problem("Unless a valid template_id is provided, the content parameter is required.", "content"))
    send_at = payload.get("send_at")
    if isinstance(send_at, int) and send_at > limit:
        found.append(problem("send_at can not be more than 72 hours in the future", "send_at"))
    return found

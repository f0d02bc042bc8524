"""Local HTTP servers standing in for SendGrid (v3) and Mailjet (v3.1), on loopback.

They are real HTTP servers (stdlib ``ThreadingHTTPServer`` in a thread) that check the
authentication and the request body the way the real APIs do, answer in the real APIs'
shapes, and record every request they received so that tests can look at what was sent.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# Vendored with its licence (tests/specs/README.md says where from), so a fresh clone runs alone.
SPECS_DIR = Path(__file__).resolve().parents[1] / "specs"
SENDGRID_SPEC = SPECS_DIR / "sendgrid-mail-v3.openapi.json"

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the server answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON-encoded when not None
    headers: tuple[tuple[str, str], ...] = ()


class RecordingHTTPServer(ABC):
    """Base: runs in a thread, records requests, and dispatches them to ``handle``."""

    __test__ = False

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects from a real API

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                path = self.path.split("?", 1)[0]
                reply = owner.handle(self.command, path, headers, body)
                owner._record(RecordedRequest(self.command, self.path, headers, body, reply.status))
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                if reply.body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                # Silence stderr access logs; the recorded requests are the log.
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)

    @abstractmethod
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply of the provider being imitated."""

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.split("?", 1)[0] == path]

    def start(self) -> RecordingHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# --- SendGrid ----------------------------------------------------------------------------------

_SG_BODY_POINTER = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
_SG_MAX_RECIPIENTS = 1000
_SG_MAX_BYTES = 30 * 1024 * 1024
_SG_MAX_SEND_AHEAD = 72 * 3600


@cache
def sendgrid_validator() -> Draft202012Validator:
    """The request-body validator from SendGrid's own OpenAPI description.

    The spec types the top-level ``custom_args`` as a string, a known defect (tests/specs/README.md):
    SendGrid takes an object, and requires its values to be strings, as it does for the
    personalization-level ``custom_args``; both are checked as such.
    """
    spec = json.loads(SENDGRID_SPEC.read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    body["properties"]["custom_args"] = {**string_map, "description": "custom_args (object, see README)"}
    body["properties"]["personalizations"]["items"]["properties"]["custom_args"] = dict(string_map)
    uri = "urn:openesp:sendgrid-mail-v3"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": uri + _SG_BODY_POINTER},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _sg_field(path: Any) -> str | None:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else None


def sendgrid_problems(payload: Any, raw_size: int) -> list[dict[str, Any]]:
    """SendGrid-style error objects for a mail/send body; empty when the body is acceptable."""
    errors: list[dict[str, Any]] = [
        {"message": error.message, "field": _sg_field(error.absolute_path), "help": None}
        for error in sorted(sendgrid_validator().iter_errors(payload), key=lambda e: list(map(str, e.path)))
    ]
    if errors or not isinstance(payload, dict):
        return errors
    # The rules the schema cannot express (tests/specs/README.md).
    total = 0
    for index, personalization in enumerate(payload.get("personalizations", [])):
        if not personalization.get("to"):
            errors.append(
                {
                    "message": "The to array is required for all personalization objects, and must have at "
                    "least one email object with a valid email address.",
                    "field": f"personalizations.{index}.to",
                    "help": None,
                }
            )
        seen: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            for recipient in personalization.get(kind, []):
                total += 1
                address = str(recipient.get("email", "")).lower()
                if address in seen:
                    errors.append(
                        {
                            "message": "Each email address in the personalization block should be unique "
                            "between to, cc, and bcc. We found the first duplicate instance of "
                            f"[{address}] in the personalizations.{index}.{kind} field.",
                            "field": f"personalizations.{index}.{kind}",
                            "help": None,
                        }
                    )
                seen.add(address)
        send_at = personalization.get("send_at")
        if isinstance(send_at, int) and send_at > time.time() + _SG_MAX_SEND_AHEAD:
            errors.append(
                {
                    "message": "send_at can not be more than 72 hours in the future",
                    "field": f"personalizations.{index}.send_at",
                    "help": None,
                }
            )
    if not payload.get("personalizations"):
        errors.append(
            {
                "message": "The personalizations field is required and must have at least one personalization.",
                "field": "personalizations",
                "help": None,
            }
        )
    if total > _SG_MAX_RECIPIENTS:
        errors.append(
            {
                "message": "The total number of recipients must be no more than 1000.",
                "field": "personalizations",
                "help": None,
            }
        )
    if "reply_to" in payload and "reply_to_list" in payload:
        errors.append(
            {
                "message": "reply_to and reply_to_list cannot be used together.",
                "field": "reply_to_list",
                "help": None,
            }
        )
    if not payload.get("content") and not payload.get("template_id"):
        errors.append(
            {
                "message": "Unless a valid template_id is provided, the content parameter is required.",
                "field": "content",
                "help": None,
            }
        )
    send_at = payload.get("send_at")
    if isinstance(send_at, int) and send_at > time.time() + _SG_MAX_SEND_AHEAD:
        errors.append(
            {
                "message": "send_at can not be more than 72 hours in the future",
                "field": "send_at",
                "help": None,
            }
        )
    if raw_size > _SG_MAX_BYTES:
        errors.append({"message": "The total message size must be less than 30MB.", "field": None, "help": None})
    return errors


class SendGridServer(RecordingHTTPServer):
    """``POST /v3/mail/send`` and ``GET /v3/scopes`` with ``Authorization: Bearer <api_key>``.

    Each accepted send is kept in ``accepted`` as (X-Message-Id, body) for the tests.
    """

    def __init__(self, api_key: str = "SG.test-key.operator-secret", scopes: tuple[str, ...] = ("mail.send",)) -> None:
        super().__init__()
        self.api_key = api_key
        self.scopes = list(scopes)
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: Reply | None = None  # set to make every send answer this (e.g. 500, 429)

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _sep, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), self.api_key.encode())

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if not self._authorized(headers):
            return Reply(
                401,
                {
                    "errors": [
                        {
                            "field": None,
                            "message": "The provided authorization grant is invalid, expired, or revoked",
                            "help": None,
                        }
                    ]
                },
            )
        if path == "/v3/scopes" and method == "GET":
            return Reply(200, {"scopes": self.scopes})
        if path == "/v3/mail/send" and method == "POST":
            if "mail.send" not in self.scopes:
                return Reply(403, {"errors": [{"field": None, "message": "access forbidden", "help": None}]})
            if self.fail_with is not None:
                return self.fail_with
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                return Reply(400, {"errors": [{"field": None, "message": "Bad Request", "help": None}]})
            problems = sendgrid_problems(payload, len(body))
            if problems:
                return Reply(400, {"errors": problems})
            message_id = secrets.token_urlsafe(16)[:22]
            with self._lock:
                self.accepted.append((message_id, payload))
            return Reply(202, None, (("X-Message-Id", message_id),))
        return Reply(404, {"errors": [{"field": None, "message": "resource not found", "help": None}]})


# --- Mailjet -----------------------------------------------------------------------------------

_MJ_MAX_MESSAGES = 50
_MJ_AUTH_FAILED = {
    "ErrorIdentifier": "",
    "ErrorCode": "mj-0002",
    "StatusCode": 401,
    "ErrorMessage": "API key authentication/authorization failure. You may be unauthorized to access the API "
    "or your API key may be expired. Visit API keys management section to check your keys.",
}


def _mj_error(code: str, message: str, related: list[str]) -> dict[str, Any]:
    return {
        "ErrorIdentifier": str(uuid.uuid4()),
        "ErrorCode": code,
        "StatusCode": 400,
        "ErrorMessage": message,
        "ErrorRelatedTo": related,
    }


def _mj_address_problem(value: Any, field: str, code: str) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("Email"), str) or "@" not in value["Email"]:
        return _mj_error(
            code,
            f'"{value.get("Email") if isinstance(value, dict) else value}" is an invalid email address.',
            [field],
        )
    return None


def mailjet_message_problems(message: Any) -> list[dict[str, Any]]:
    """Mailjet's per-message checks for the fields it requires."""
    if not isinstance(message, dict):
        return [_mj_error("mj-0003", "Message must be an object.", [])]
    errors: list[dict[str, Any]] = []
    if "From" not in message:
        errors.append(_mj_error("send-0003", 'At least "From" must be provided.', ["From"]))
    else:
        problem = _mj_address_problem(message["From"], "From.Email", "send-0010")
        if problem:
            errors.append(problem)
    recipients = [message.get(kind) or [] for kind in ("To", "Cc", "Bcc")]
    if not isinstance(message.get("To"), list) or not message["To"]:
        errors.append(_mj_error("send-0003", 'At least "To" must be provided and contain one recipient.', ["To"]))
    for kind, items in zip(("To", "Cc", "Bcc"), recipients, strict=True):
        if not isinstance(items, list):
            errors.append(_mj_error("mj-0003", f'Type mismatch. Expected type "array of emails" for {kind}.', [kind]))
            continue
        for index, recipient in enumerate(items):
            problem = _mj_address_problem(recipient, f"{kind}[{index}].Email", "send-0010")
            if problem:
                errors.append(problem)
    has_template = bool(message.get("TemplateID"))
    if not has_template and not message.get("Subject"):
        errors.append(_mj_error("send-0003", 'At least "Subject" must be provided.', ["Subject"]))
    if not has_template and not (message.get("TextPart") or message.get("HTMLPart")):
        errors.append(
            _mj_error(
                "send-0003",
                'At least "HTMLPart", "TextPart" or "TemplateID" must be provided.',
                ["HTMLPart", "TextPart"],
            )
        )
    for key in ("CustomID", "Subject", "TextPart", "HTMLPart"):
        if key in message and not isinstance(message[key], str):
            errors.append(_mj_error("mj-0003", f'Type mismatch. Expected type "string" for {key}.', [key]))
    return errors


class MailjetServer(RecordingHTTPServer):
    """``POST /v3.1/send`` and ``GET /v3/REST/myprofile`` (and ``/apikey``) with Basic key:secret."""

    def __init__(self, api_key: str = "mj-test-public-key", secret_key: str = "mj-test-secret-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.secret_key = secret_key
        self.accepted: list[dict[str, Any]] = []  # each accepted message, as sent
        self.fail_with: Reply | None = None
        self._next_id = 288230376151711744  # Mailjet message ids are large integers

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _sep, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self.api_key}:{self.secret_key}".encode()
        return secrets.compare_digest(decoded, expected)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if not self._authorized(headers):
            return Reply(401, _MJ_AUTH_FAILED)
        if path == "/v3/REST/myprofile" and method == "GET":
            return Reply(200, {"Count": 1, "Data": [{"ID": 1, "CompanyName": "openesp tests"}], "Total": 1})
        if path == "/v3/REST/apikey" and method == "GET":
            return Reply(200, {"Count": 1, "Data": [{"ID": 1, "IsActive": True, "Name": "tests"}], "Total": 1})
        if path == "/v3.1/send" and method == "POST":
            if self.fail_with is not None:
                return self.fail_with
            return self._send(body)
        return Reply(404, {"ErrorMessage": "Object not found", "StatusCode": 404})

    def _send(self, body: bytes) -> Reply:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return Reply(
                400,
                {
                    "ErrorIdentifier": str(uuid.uuid4()),
                    "ErrorCode": "mj-0031",
                    "StatusCode": 400,
                    "ErrorMessage": "Invalid json input",
                },
            )
        messages = payload.get("Messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list) or not messages:
            return Reply(
                400,
                {
                    "ErrorIdentifier": str(uuid.uuid4()),
                    "ErrorCode": "mj-0003",
                    "StatusCode": 400,
                    "ErrorMessage": 'Missing mandatory property "Messages".',
                    "ErrorRelatedTo": ["Messages"],
                },
            )
        if len(messages) > _MJ_MAX_MESSAGES:
            return Reply(
                400,
                {
                    "ErrorIdentifier": str(uuid.uuid4()),
                    "ErrorCode": "mj-0004",
                    "StatusCode": 400,
                    "ErrorMessage": f"Messages: at most {_MJ_MAX_MESSAGES} messages per call.",
                    "ErrorRelatedTo": ["Messages"],
                },
            )
        results: list[dict[str, Any]] = []
        failed = False
        for message in messages:
            problems = mailjet_message_problems(message)
            if problems:
                failed = True
                results.append({"Status": "error", "Errors": problems})
                continue
            results.append(self._accept(message))
        # Mailjet answers 400 when any message failed, with a status for each message.
        return Reply(400 if failed else 200, {"Messages": results})

    def _accept(self, message: dict[str, Any]) -> dict[str, Any]:
        def sent(recipients: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for recipient in recipients:
                self._next_id += 1
                out.append(
                    {
                        "Email": recipient["Email"],
                        "MessageUUID": str(uuid.uuid4()),
                        "MessageID": self._next_id,
                        "MessageHref": f"{self.url}/v3/REST/message/{self._next_id}",
                    }
                )
            return out

        with self._lock:
            self.accepted.append(message)
            result: dict[str, Any] = {"Status": "success", "CustomID": message.get("CustomID", "")}
            result["To"] = sent(message.get("To", []))
            result["Cc"] = sent(message.get("Cc", []))
            result["Bcc"] = sent(message.get("Bcc", []))
        return result

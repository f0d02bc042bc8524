"""SendGrid's v3 mail routes: ``/v3/mail/send``, ``/v3/mail/batch``, ``/v3/user/scheduled_sends``.

Answers as SendGrid's: ``202`` with an empty body and ``X-Message-Id`` for a send; errors
``{"errors": [{"message", "field", "help"}]}`` with 400, 401, 403, 404, 405, 413 or 429, also for
routes under ``/v3/`` that openesp does not have.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from openesp.compat import accept, batches, sendgrid
from openesp.compat.accept import SenderRefused, Senders
from openesp.compat.auth import AuthFailed, Refused, Sender, TooMany, authenticate
from openesp.compat.models import BatchStatus, SendBatch
from openesp.compat.sendgrid_schema import MAX_BYTES, problem, problems
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.idempotency import commit_once
from openesp.messaging.submit import Submission

View = Callable[..., HttpResponse]
logger = logging.getLogger(__name__)


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _errors(status: int, found: list[dict[str, Any]]) -> HttpResponse:
    return _json(status, {"errors": found})


def _invalid(found: list[FieldProblem]) -> HttpResponse:
    return _errors(400, [problem(p.reason, p.field or None) for p in found])


def endpoint(*methods: str) -> Callable[[Callable[..., HttpResponse]], View]:
    """A SendGrid route: these methods, an authenticated sender, errors in SendGrid's shape."""

    def wrap(view: Callable[..., HttpResponse]) -> View:
        @csrf_exempt
        def run(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _errors(405, [problem(f"{request.method} is not allowed here", None)])
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, authenticate(request), **kwargs)
            except AuthFailed:
                return _errors(401, [problem("The provided authorization grant is invalid, expired, or revoked", None)])
            except Refused as exc:
                return _errors(403, [problem(f"access forbidden: {exc}", None)])
            except TooMany as exc:
                response = _errors(429, [problem(str(exc), None)])
                response["Retry-After"] = str(exc.retry_after)
                return response
            except Http404 as exc:
                return _errors(404, [problem(str(exc) or "resource not found", None)])
            except RequestDataTooBig:
                return _errors(413, [problem("The total message size must be less than 30MB.", None)])
            except InvalidInput as exc:
                return _invalid(exc.problems)
            except Exception:
                # A client parses every answer: a fault of ours is a 500 in SendGrid's shape, not an
                # HTML page (as the native API's own handler does). Nothing was committed.
                logger.exception("SendGrid-compatible error on %s %s", request.method, request.path)
                return _errors(500, [problem("an internal error occurred", None)])

        return run

    return wrap


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput.one("", "Bad Request: the request body is not valid JSON") from None


@endpoint("POST")
def mail_send(request: HttpRequest, sender: Sender) -> HttpResponse:
    if len(request.body) >= MAX_BYTES:
        return _errors(413, [problem("The total message size must be less than 30MB.", None)])
    payload = _body(request)
    found = problems(payload)
    if found:
        return _errors(400, found)
    items = sendgrid.items(sender, payload)
    senders = Senders(sender)
    checked: list[tuple[accept.Item, Submission]] = []
    refused: list[FieldProblem] = []
    for index, item in enumerate(items):
        personalization = payload["personalizations"][index]
        try:
            checked.append((item, accept.check(senders, item)))
        except InvalidInput as exc:
            refused.extend(sendgrid.in_sendgrid_terms(exc, index, personalization))
        except SenderRefused as exc:
            # SendGrid answers an unverified sender with 403 naming "from".
            return _errors(403, [problem(str(exc), "from")])
    if refused:
        return _invalid(refused)

    def write() -> tuple[dict[str, Any], bool]:
        written = accept.queue(sender, checked, accept.batches_named(sender, items))
        return {"id": str(written[0][0].public_id)}, False

    # The native API's commit (messaging.idempotency.commit_once): one transaction, shared with
    # concurrent requests' where the native path groups them. SendGrid has no idempotency key.
    answer = commit_once(sender.owner, None, "", write)
    # Only here, after the transaction has committed, is the 202 built.
    response = HttpResponse(status=202)
    response["X-Message-Id"] = answer.body["id"]
    return response


def _batch_out(batch: SendBatch) -> dict[str, str]:
    return {"batch_id": batch.batch_id}


@endpoint("POST")
def mail_batch(request: HttpRequest, sender: Sender) -> HttpResponse:
    return _json(201, _batch_out(batches.create_batch(sender)))


@endpoint("GET")
def mail_batch_detail(request: HttpRequest, sender: Sender, batch_id: str) -> HttpResponse:
    return _json(200, _batch_out(batches.access_batch(sender, batch_id)))


def _status(value: Any) -> str:
    if value not in (BatchStatus.PAUSE, BatchStatus.CANCEL):
        raise InvalidInput.one("status", "must be either cancel or pause")
    return str(value)


def _scheduled(batch: SendBatch) -> dict[str, str]:
    return {"batch_id": batch.batch_id, "status": batch.status}


@endpoint("GET", "POST")
def scheduled_sends(request: HttpRequest, sender: Sender) -> HttpResponse:
    if request.method == "GET":
        return _json(200, [_scheduled(b) for b in batches.scheduled(sender)])
    payload = _body(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("batch_id"), str):
        raise InvalidInput.one("batch_id", "is required")
    status = _status(payload.get("status"))
    return _json(201, _scheduled(batches.set_status(sender, payload["batch_id"], status)))


@endpoint("GET", "PATCH", "DELETE")
def scheduled_send(request: HttpRequest, sender: Sender, batch_id: str) -> HttpResponse:
    if request.method == "GET":
        batch = batches.access_batch(sender, batch_id)
        return _json(200, [_scheduled(batch)] if batch.status else [])
    if request.method == "PATCH":
        payload = _body(request)
        batches.set_status(sender, batch_id, _status(payload.get("status") if isinstance(payload, dict) else None))
        return HttpResponse(status=204)
    batches.resume(sender, batch_id)
    return HttpResponse(status=204)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other route under /v3/: SendGrid's 404, not an HTML page."""
    return _errors(404, [problem("resource not found", None)])

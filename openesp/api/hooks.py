"""Provider events in: ``POST /hooks/sendgrid`` and ``POST /hooks/mailjet``.

Plain Django views, not the API's: no API key, the provider proves itself with a signature
(SendGrid) or HTTP Basic credentials (Mailjet). Refused (401) before anything is read or
stored; a body that is not JSON is 400; otherwise every event is stored — the body as it came, one
row (decision 017) — and the answer, 200, comes after the commit, so the provider retries only
what we really did not take. Processing happens later, in the workers: they split the batch,
skip events seen before and keep malformed and unwanted ones with their reason.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from openesp.esp.webhooks import Refused, mailjet, sendgrid
from openesp.events.inbox import store_batch
from openesp.events.models import Source


def _refused(exc: Refused) -> JsonResponse:
    return JsonResponse({"detail": str(exc)}, status=401)


def _body(request: HttpRequest) -> tuple[str, Any]:
    """The body as text and as JSON (ValueError if it is not JSON: UTF-8, as RFC 8259 asks)."""
    text = request.body.decode("utf-8")
    return text, json.loads(text)


def _stored(source: str, text: str, events: int) -> JsonResponse:
    if events:
        store_batch(source, text, events)
    return JsonResponse({"received": events})


def _not_json(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": [{"field": "body", "message": detail}]}, status=400)


@csrf_exempt
@require_POST
def sendgrid_events(request: HttpRequest) -> JsonResponse:
    try:
        sendgrid.verify(
            request.body,
            request.headers.get(sendgrid.SIGNATURE_HEADER, ""),
            request.headers.get(sendgrid.TIMESTAMP_HEADER, ""),
            settings.OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY,
        )
    except Refused as exc:
        return _refused(exc)
    try:
        text, items = _body(request)
    except ValueError:
        return _not_json("the body is not JSON")
    if not isinstance(items, list):
        return _not_json("expected a JSON array of events")
    return _stored(Source.SENDGRID, text, len(items))


@csrf_exempt
@require_POST
def mailjet_events(request: HttpRequest) -> JsonResponse:
    try:
        mailjet.verify(
            request.headers.get("Authorization", ""),
            settings.OPENESP_MAILJET_WEBHOOK_USER,
            settings.OPENESP_MAILJET_WEBHOOK_PASSWORD,
        )
    except Refused as exc:
        return _refused(exc)
    try:
        text, body = _body(request)
    except ValueError:
        return _not_json("the body is not JSON")
    if not isinstance(body, list | dict):
        return _not_json("expected an event object or an array of them")
    return _stored(Source.MAILJET, text, len(body) if isinstance(body, list) else 1)

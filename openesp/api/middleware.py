"""Answers that leave django-ninja without passing its exception handlers.

Ninja answers a method a path does not take with Django's bare ``HttpResponseNotAllowed``
(text, not JSON) before any handler runs; API clients parse every error body, so this puts
those answers in the one error shape (``api.errors``) and keeps the ``Allow`` header.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ApiMethodNotAllowedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            allowed = response.get("Allow", "")
            body = {
                "error": "method_not_allowed",
                "detail": f"{request.method} is not allowed here; allowed: {allowed}",
            }
            json_response = HttpResponse(json.dumps(body), status=405, content_type="application/json")
            json_response["Allow"] = allowed
            return json_response
        return response

"""One error shape for the whole API.

Every error body has ``error`` (a stable code) and ``detail`` (for people); invalid input adds
``errors``, a list of ``{"field", "reason"}``. Codes: ``unauthorized`` (401), ``forbidden``
(403), ``not_found`` (404), ``method_not_allowed`` (405, see ``api.middleware``), ``conflict``
(409), ``too_large`` (413), ``unsupported_media_type`` (415: a body of a type the route does not
read, see ``api.content``), ``invalid`` (400 for an unreadable body, a malformed ``Content-Type``
or header injection, 422 for bad fields). Nothing a client sends is answered with a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from openesp.accounts.access import NotAllowed
from openesp.api.auth import Forbidden, Unauthorized
from openesp.api.content import NUL_REASON, HoldsNul, MalformedContentType, NotAnObject, UnsupportedMediaType
from openesp.campaigns.errors import Conflict as StateConflict
from openesp.lib.errors import FieldProblem, InvalidInput, Throttled

logger = logging.getLogger(__name__)

CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


class Conflict(Exception):
    """The object exists but its state does not allow this (409); the message says why."""


class Malformed(InvalidInput):
    """Input refused as 400 rather than 422: a header value or address with CR, LF or NUL."""


class ErrorOut(Schema):
    error: str
    detail: str


class ThrottledOut(ErrorOut):
    retry_after: int = Field(description="seconds until it may be asked again (also the Retry-After header)")


class FieldErrorOut(Schema):
    field: str
    reason: str


class InvalidOut(ErrorOut):
    errors: list[FieldErrorOut]


ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: InvalidOut}


def _field(loc: Sequence[Any]) -> str:
    """``("body", "payload", "host")`` → ``host``; ``("query", "organization")`` → ``organization``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        # The second element names the view's body parameter, which means nothing to a client.
        parts = parts[2:] or ["body"]
    elif len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def _error(api: NinjaAPI, request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return api.create_response(request, {"error": CODES.get(status, "error"), "detail": detail}, status=status)


def _invalid(api: NinjaAPI, request: HttpRequest, problems: list[FieldProblem], status: int = 422) -> HttpResponse:
    body = {
        "error": "invalid",
        "detail": "; ".join(f"{p.field}: {p.reason}" for p in problems),
        "errors": [{"field": p.field, "reason": p.reason} for p in problems],
    }
    return api.create_response(request, body, status=status)


def install(api: NinjaAPI) -> None:
    @api.exception_handler(Unauthorized)
    def unauthorized(request: HttpRequest, exc: Unauthorized) -> HttpResponse:
        response = _error(api, request, 401, str(exc))
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        body = {"error": CODES[429], "detail": str(exc), "retry_after": exc.retry_after}
        response = api.create_response(request, body, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(Forbidden)
    def forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
        return _error(api, request, 403, str(exc))

    @api.exception_handler(NotAllowed)
    def not_allowed(request: HttpRequest, exc: NotAllowed) -> HttpResponse:
        return _error(api, request, 403, str(exc))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _error(api, request, 404, str(exc) or "not found")

    @api.exception_handler(InvalidInput)
    def invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
        return _invalid(api, request, exc.problems)

    @api.exception_handler(Malformed)
    def malformed(request: HttpRequest, exc: Malformed) -> HttpResponse:
        return _invalid(api, request, exc.problems, status=400)

    @api.exception_handler(Conflict)
    def conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        return _error(api, request, 409, str(exc))

    @api.exception_handler(StateConflict)
    def state_conflict(request: HttpRequest, exc: StateConflict) -> HttpResponse:
        # An illegal transition of a campaign (or a template still in use): the domain's own 409.
        return _error(api, request, 409, str(exc))

    @api.exception_handler(RequestDataTooBig)
    def too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        # Raised when the body is read; the limit is DATA_UPLOAD_MAX_MEMORY_SIZE (see settings).
        return _error(api, request, 413, "the request body is too large")

    @api.exception_handler(NinjaValidationError)
    def invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        # Pydantic's own messages; ninja has already dropped the offending input from them,
        # so a mistyped password is never echoed back.
        problems = [FieldProblem(_field(e.get("loc", ())), str(e.get("msg", "is invalid"))) for e in exc.errors]
        return _invalid(api, request, problems)

    @api.exception_handler(UnsupportedMediaType)
    def unsupported_media_type(request: HttpRequest, exc: UnsupportedMediaType) -> HttpResponse:
        return _error(api, request, 415, str(exc))

    @api.exception_handler(MalformedContentType)
    def malformed_content_type(request: HttpRequest, exc: MalformedContentType) -> HttpResponse:
        return _invalid(api, request, [FieldProblem("Content-Type", str(exc))], status=400)

    @api.exception_handler(MultiPartParserError)
    def unreadable_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        # Django's parser refuses a multipart body without a usable boundary, or a broken one.
        return _invalid(api, request, [FieldProblem("body", f"is not readable multipart/form-data: {exc}")], 400)

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        # Too many form fields or files (DATA_UPLOAD_MAX_NUMBER_FIELDS/…_FILES), and the like.
        return _invalid(api, request, [FieldProblem("body", str(exc) or "is not acceptable")], status=400)

    @api.exception_handler(BadRequest)
    def bad_request(request: HttpRequest, exc: BadRequest) -> HttpResponse:
        return _invalid(api, request, [FieldProblem("body", str(exc) or "is not acceptable")], status=400)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400:
            # Raised by ninja when the body cannot be read; the parser's exception (api.content) is the cause.
            cause = exc.__cause__
            if isinstance(cause, UnsupportedMediaType):
                return unsupported_media_type(request, cause)
            if isinstance(cause, MalformedContentType):
                return malformed_content_type(request, cause)
            if isinstance(cause, HoldsNul):
                return _invalid(api, request, [FieldProblem(cause.field, NUL_REASON)], status=400)
            if isinstance(cause, NotAnObject):
                return _invalid(api, request, [FieldProblem("body", str(cause))])
            return _invalid(api, request, [FieldProblem("body", "is not valid JSON")], status=400)
        if exc.status_code == 401:
            response = _error(api, request, 401, "send the API key as 'Authorization: Bearer <key>'")
            response["WWW-Authenticate"] = "Bearer"
            return response
        return _error(api, request, exc.status_code, str(exc))

    @api.exception_handler(Exception)
    def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return api.create_response(
            request, {"error": "server_error", "detail": "an internal error occurred"}, status=500
        )

"""How the API reads a request body, by its ``Content-Type``: one place for every route.

django-ninja hands every body to one parser: JSON routes through ``parse_body``, form and
file routes through ``parse_querydict`` (with ``request.POST``/``request.FILES``). This parser
checks the media type first, so that

- a JSON route takes ``application/json`` (or a ``+json`` type), or no ``Content-Type`` at all
  (read as JSON, as clients such as ``curl -d`` send it); form data or any other type is a 415;
- a form route (a CSV upload) reads ``multipart/form-data`` or
  ``application/x-www-form-urlencoded``; another body has no form fields, and the route's
  validation names the one missing (a 422 for the file);
- a ``Content-Type`` that is not a media type at all (``garbage``, ``a/b/c``) is a 400.

``multipart/form-data`` without a usable boundary fails earlier, in Django's own parser, as a
``MultiPartParserError``; ``api.errors`` answers it as a 400. None of these is ever a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters
from ninja.parser import Parser

JSON = "application/json"

# RFC 9110 §8.3.1: type "/" subtype, each a token.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+")


class UnsupportedMediaType(Exception):
    """The body is of a media type this route does not read (415); the message says which it reads."""


class NotAnObject(ValueError):
    """The body is JSON, but not an object (422 naming ``body``)."""


NUL_REASON = "must not contain the NUL character (U+0000)"


class HoldsNul(ValueError):
    """A string in the JSON body holds U+0000 (400 naming the field where it is)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class MalformedContentType(Exception):
    """The ``Content-Type`` header is not a media type (400)."""


def media_type(request: HttpRequest) -> str | None:
    """The request's media type, lower-cased and without parameters; None when it names none."""
    header = request.META.get("CONTENT_TYPE", "").strip()
    if not header:
        return None
    main, _params = parse_header_parameters(header)
    main = main.strip().lower()
    if not _MEDIA_TYPE.fullmatch(main):
        raise MalformedContentType(f"{header[:100]!r} is not a media type (type/subtype)")
    return main


def _is_json(kind: str) -> bool:
    return kind == JSON or kind.endswith("+json")


def _has_body(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


def _where_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string holding U+0000 (``to[0].name``, ``headers.X-Order``); None when none does."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            found = _where_nul(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _where_nul(item, f"{path or 'body'}[{index}]")
            if found is not None:
                return found
    return None


class ApiParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        # ninja turns any exception raised here into HttpError(400) with this one as its cause;
        # api.errors reads the cause to answer 400 or 415 with the reason.
        kind = media_type(request)
        if kind is not None and not _is_json(kind):
            raise UnsupportedMediaType(f"this route reads {JSON}, not {kind}")
        data = json.loads(request.body)
        if data is not None and not isinstance(data, dict):
            # Every body of this API is an object; ninja would otherwise try to read a list as one.
            raise NotAnObject("must be a JSON object")
        # JSON can carry U+0000 only as the escape \u0000 (a raw control character in a string is
        # refused by json.loads), or in a UTF-16/32 body, whose bytes hold NULs: without either,
        # no string of it holds one and the walk over every value (a 500-message batch) is skipped.
        body = request.body
        where = _where_nul(data) if b"\\u0000" in body or b"\x00" in body else None
        if where is not None:
            # PostgreSQL's text cannot store U+0000 and no header may carry it: refuse it here, for
            # every route and field, as the malformed input it is (not as a 500 on PostgreSQL).
            raise HoldsNul(where)
        return data

    def parse_querydict(self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest) -> Any:
        # Called for the query string too; only form and file fields come from the body. Any
        # media type that is one passes: a body that is not a form has no fields, and the
        # route's validation names the field that is missing (the file of an upload).
        if data is not request.GET and _has_body(request):
            media_type(request)
        return super().parse_querydict(data, list_fields, request)

"""The WSGI application: Django, with API requests through a handler of their own.

An API request (``/api/``, and the SendGrid- and Mailjet-compatible ``/v3/`` and ``/v3.1/``)
authenticates with a key, not a session, and answers JSON in English: the middleware of the web
pages — sessions, the logged-in user, CSRF, the language, flash messages, static files — did
nothing for it and cost a fifth of a single send's Python time in ``openesp serve``
(docs/benchmarks.md). API requests go through ``ApiHandler``, the same Django handler with only
the middleware they need (``API_MIDDLEWARE``, in ``settings.MIDDLEWARE``'s order); every other
request through Django's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openesp.settings")

API_PREFIXES = ("/api/", "/v3/", "/v3.1/")
API_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",  # nosniff, referrer and opener policies
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",  # /api/docs is a page
        "openesp.api.middleware.ApiMethodNotAllowedMiddleware",
    }
)

StartResponse = Callable[..., Any]


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.MIDDLEWARE`` narrowed to ``API_MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE: narrowed for that call only, while
        # the application is made (before any request, in one thread).
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in every if path in API_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


class Application:
    """The WSGI callable: API paths to ``ApiHandler``, the rest to Django's handler."""

    def __init__(self) -> None:
        django.setup(set_prefix=False)
        self.pages = WSGIHandler()
        self.api = ApiHandler()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIXES) else self.pages
        return handler(environ, start_response)


application = Application()

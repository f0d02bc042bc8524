"""Template context for every page: the operator's notice when links in mail would point
somewhere else than the address this page was reached at (issue 10, item 1).

Links in mail start with ``OPENESP_BASE_URL``. When a superuser reaches the server under another
host or port (a proxy, a changed ``--port``, a name instead of an address), mail would send people
to the wrong place; the notice names both, so the operator can set ``OPENESP_BASE_URL``.
Nobody else sees it: it would mean nothing to them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
    except ValueError:
        return None
    return (parts.hostname or "").lower(), port


def base_url_mismatch(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_superuser:
        return {}
    base = settings.OPENESP_BASE_URL
    base_parts = urlsplit(base)
    try:
        reached = request.get_host()
    except Exception:  # a disallowed host is answered by Django elsewhere; no notice here
        return {}
    if _host_port(base_parts.netloc, base_parts.scheme) == _host_port(reached, request.scheme or "http"):
        return {}
    return {"base_url_mismatch": {"links": base, "reached": f"{request.scheme}://{reached}"}}

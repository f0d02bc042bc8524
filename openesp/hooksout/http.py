"""POSTing one webhook over an SSRF-safe connection (``lib.netguard``).

The endpoint's host is resolved once and checked (private, loopback and metadata addresses are
refused unless ``OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS``); the connection goes to that checked
address, with the URL's host name for TLS and the Host header. Redirects are not followed: a
3xx is a failed attempt, so a public URL cannot bounce the request to a private one.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from openesp.lib import netguard
from openesp.lib.errors import InvalidInput

USER_AGENT = "openesp-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str  # empty when ok


def check_url(url: str, field: str = "url") -> str:
    """The URL as stored, or InvalidInput naming ``field``: http(s), a host, no credentials.
    A host written as a refused address is refused now; names are checked at each send."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput.one(field, "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidInput.one(field, "must not contain credentials")
    if len(url) > 2000:
        raise InvalidInput.one(field, "is longer than 2000 characters")
    try:
        _port(parts.scheme, parts.port)
        netguard.check_host_text(parts.hostname, allow_private=settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS)
    except (netguard.HostRefused, ValueError) as exc:
        raise InvalidInput.one(field, str(exc)) from None
    return url


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


def _connected(target: netguard.Target, timeout: float | None) -> socket.socket:
    sock = netguard.connect(target, timeout or 10.0)
    # As http.client's own connect does: headers and body leave at once, not after the peer's
    # delayed ACK (40 ms a request otherwise).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: netguard.Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def connect(self) -> None:
        self.sock = _connected(self._target, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: netguard.Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()  # verifies the certificate against the URL's host
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._target = target

    def connect(self) -> None:
        sock = _connected(self._target, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: str, headers: dict[str, str]) -> Attempt:
    """One attempt; any 2xx is success. Never raises for the endpoint's faults."""
    parts = urlsplit(url)
    timeout = float(settings.OPENESP_WEBHOOK_TIMEOUT)
    try:
        target = netguard.resolve(
            parts.hostname or "",
            _port(parts.scheme, parts.port),
            allow_private=settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS,
            smtp_port=False,
        )
        connection = (_PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP)(target, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(
                "POST",
                path,
                body=body.encode(),
                headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            response = connection.getresponse()
            response.read(4096)
        finally:
            connection.close()
    except (netguard.HostRefused, netguard.ResolveFailed) as exc:
        return Attempt(False, None, str(exc)[:500])
    except (OSError, http.client.HTTPException) as exc:  # timeouts and TLS errors are OSErrors
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status < 300:
        return Attempt(True, response.status, "")
    return Attempt(False, response.status, f"HTTP {response.status} {response.reason}"[:500])

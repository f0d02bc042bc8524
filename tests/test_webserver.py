"""serve's HTTP server: granian's WSGI worker on a socket we listen on (decision 020)."""

from __future__ import annotations

import socket
import threading
import urllib.request

from openesp.ops.webserver import WebServer, without_proxy_headers
from tests.processes import HANG


def _echo_forwarded(environ, start_response):
    """Answers with the X-Forwarded-For and Forwarded the application was given."""
    seen = f"{environ.get('HTTP_X_FORWARDED_FOR', '-')} {environ.get('HTTP_FORWARDED', '-')}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [seen.encode()]


def _process_environment(environ, start_response):
    """Answers whether the process environment reached the request's environ."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str("OPENESP_WEBSERVER_TEST" in environ).encode()]


def _get(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    )
    with urllib.request.urlopen(request, timeout=HANG) as response:
        return response.read().decode()


# The listening sockets stay open for the session: granian's own threads finish shutting down
# after run() returns (in serve, the process then ends), and must not find the fd reused.
_listeners: list[socket.socket] = []


def _serving(app) -> tuple[WebServer, threading.Thread, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    _listeners.append(listener)
    server = WebServer(listener, app, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread, listener.getsockname()[1]


def test_it_serves_until_closed_and_passes_proxy_headers_only_when_told():
    for app, expected in (
        (_echo_forwarded, "203.0.113.9 for=203.0.113.9"),
        (without_proxy_headers(_echo_forwarded), "- -"),
    ):
        server, thread, port = _serving(app)
        assert _get(port) == expected
        server.close()
        thread.join(HANG)
        assert not thread.is_alive()


def test_the_process_environment_stays_out_of_requests(monkeypatch):
    """DATABASE_URL and provider keys must not reach request.META (error reports show it)."""
    monkeypatch.setenv("OPENESP_WEBSERVER_TEST", "secret")
    server, thread, port = _serving(_process_environment)
    assert _get(port) == "False"
    server.close()
    thread.join(HANG)

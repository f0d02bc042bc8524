"""serve's HTTP server: granian's WSGI worker on a socket we listen on (decision 020)."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from email.message import Message

import pytest

from openesp.accounts.apikeys import create_api_key
from openesp.messaging.models import Message as OutgoingMessage
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


class _CountingSignal:
    """granian's stop signal, counting how often it is set."""

    def __init__(self, signal) -> None:
        self.signal, self.sets = signal, 0

    def set(self) -> None:
        self.sets += 1
        self.signal.set()


def test_granian_is_told_to_stop_once_however_often_it_is_closed():
    # A web process of serve is closed by its SIGTERM handler, and can get two SIGTERMs (its
    # parent's, and the kernel's when that parent dies): granian's set() called again while its
    # runtime still handled the first hung the process.
    server, thread, port = _serving(_echo_forwarded)
    assert _get(port)
    counting = server._signal = _CountingSignal(server._signal)
    closers = [threading.Thread(target=server.close) for _ in range(4)]
    for closer in closers:
        closer.start()
    server.close()
    for closer in closers:
        closer.join(HANG)
    thread.join(HANG)
    assert not thread.is_alive()
    assert counting.sets == 1
    server.close()  # after run() has returned too
    assert counting.sets == 1


def test_the_process_environment_stays_out_of_requests(monkeypatch):
    """DATABASE_URL and provider keys must not reach request.META (error reports show it)."""
    monkeypatch.setenv("OPENESP_WEBSERVER_TEST", "secret")
    server, thread, port = _serving(_process_environment)
    assert _get(port) == "False"
    server.close()
    thread.join(HANG)


def _fetch(url: str, data: bytes | None = None, **headers: str) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=HANG) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers, refused.read()


@pytest.mark.django_db(transaction=True)
def test_api_requests_go_through_the_api_middleware_and_pages_through_all_of_it(alice):
    """openesp.wsgi.application over real HTTP: an API call gets the security headers and none
    of the pages' middleware (no language, no cookie); a page still gets all of it."""
    from openesp.wsgi import application

    _key, raw = create_api_key(alice, scopes=["messages.send"])
    server, thread, port = _serving(application)
    base = f"http://127.0.0.1:{port}"
    try:
        mail = {"from": "alice@example.org", "to": ["bob@example.net"], "subject": "Hi", "text": "Hello"}
        key = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json", "Accept-Language": "sv"}
        status, headers, body = _fetch(f"{base}/api/v1/messages", json.dumps(mail).encode(), **key)
        assert status == 202, body
        (sent,) = json.loads(body)["ids"]
        assert OutgoingMessage.objects.filter(public_id=sent).exists()
        assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"]) == ("nosniff", "DENY")
        assert headers["Content-Language"] is None and headers["Set-Cookie"] is None
        assert "Cookie" not in (headers["Vary"] or "")
        # The API's own middleware still answers a method a route does not take, in JSON.
        status, headers, body = _fetch(f"{base}/api/v1/messages/batch", **key)
        assert status == 405 and json.loads(body)["error"] == "method_not_allowed"
        # The documentation page and its schema are served as before.
        status, headers, body = _fetch(f"{base}/api/docs")
        assert status == 200 and b"swagger" in body.lower() and headers["X-Frame-Options"] == "DENY"
        status, headers, body = _fetch(f"{base}/api/openapi.json")
        assert status == 200 and "/api/v1/messages" in json.loads(body)["paths"]
        # The SendGrid-compatible door is an API too.
        sendgrid = {"personalizations": [{"to": [{"email": "bob@example.net"}]}],
                    "from": {"email": "alice@example.org"}, "subject": "Hi",
                    "content": [{"type": "text/plain", "value": "Hello"}]}  # fmt: skip
        status, headers, body = _fetch(f"{base}/v3/mail/send", json.dumps(sendgrid).encode(), **key)
        assert status == 202, body
        assert headers["Set-Cookie"] is None
        # A page: the language of the request, and the CSRF cookie of its form.
        status, headers, body = _fetch(f"{base}/login/", **{"Accept-Language": "sv"})
        assert status == 200 and headers["Content-Language"] == "sv"
        assert "csrftoken=" in (headers["Set-Cookie"] or "")
    finally:
        server.close()
        thread.join(HANG)
    assert not thread.is_alive()

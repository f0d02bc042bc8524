"""A provider that exists only in the tests, and the real HTTP server it speaks to on loopback.

It is registered by the tests that use it (``registry.temporarily(PigeonProvider)``) and
touches no other file: the proof that a provider is one module plus one registry line.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
from django.conf import settings

from openesp.esp.providers import HttpProvider, OutgoingMessage, SendResult
from openesp.esp.providers.base import http_timeout


class PigeonProvider(HttpProvider):
    kind: ClassVar[str] = "pigeon"
    label: ClassVar[str] = "Pigeon Post"
    badge: ClassVar[str] = "PP"
    region = "Atlantis"
    provider_host: ClassVar[str] = "pigeon.example"
    operator_settings: ClassVar[tuple[str, ...]] = ("OPENESP_PIGEON_API_URL",)
    credentials_path: ClassVar[str] = "/ping"

    @classmethod
    def from_settings(cls) -> PigeonProvider:
        return cls(settings.OPENESP_PIGEON_API_URL, timeout=http_timeout())

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        return response.text

    def send(self, message: OutgoingMessage) -> SendResult:
        body = {"from": message.from_email, "to": list(message.to), "subject": message.subject, "text": message.text}
        response = self.request("POST", "/send", step="send", json=body)
        if response.status_code != 200:
            raise self.fail(response, step="send", what="refused the message")
        return SendResult(response.json()["id"], f"Pigeon Post took it: {response.text}")


class PigeonServer:
    """A real HTTP server on 127.0.0.1 that can stop and start again on the same port."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PigeonServer:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(200, {"ok": True})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                self._reply(200, {"id": uuid.uuid4().hex})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

"""A receiving endpoint for outbound webhooks on loopback: it verifies every request with the
``standardwebhooks`` package's verifier (the reference implementation receivers use), can be
told to fail its next requests, and records what it accepted."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # openesp connects 8 at a time; the default 5 would drop some for 1 s


@dataclass
class WebhookReceiver:
    secret: str = ""
    fail_next: int = 0  # answer 500 to this many requests first
    accepted: list[dict[str, Any]] = field(default_factory=list)  # verified bodies, in arrival order
    refused: list[str] = field(default_factory=list)  # why a request failed verification
    failed: int = 0  # requests answered 500 on purpose
    ids: list[str] = field(default_factory=list)  # webhook-id of each accepted request
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context

    @property
    def url(self) -> str:
        assert self.server is not None
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hooks?x=1"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        receiver.failed += 1
                        self._answer(500)
                        return
                    try:
                        payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    except WebhookVerificationError as exc:
                        receiver.refused.append(str(exc))
                        self._answer(400)
                        return
                    receiver.accepted.append(json.loads(body) if not isinstance(payload, dict) else payload)
                    receiver.ids.append(self.headers["webhook-id"])
                self._answer(204)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

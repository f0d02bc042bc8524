"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

Modes: ``starttls`` (plain connect, STARTTLS offered), ``none`` (no TLS at all) and ``tls``
(implicit TLS from the first byte, as on port 465). AUTH PLAIN/LOGIN is offered and accepted
only over TLS (aiosmtpd's ``auth_require_tls``); in ``none`` mode AUTH is not offered unless a test
asks for a careless server with ``auth_require_tls=False``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.certs import TestCertificate

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the raw message as the client sent it (after dot-unstuffing)
    tls: bool  # whether the session was encrypted when the message was sent
    authenticated_as: str | None  # the login used, None when the client did not AUTH
    peer: Any  # (host, port) as asyncio reports it


@dataclass
class AuthAttempt:
    mechanism: str
    login: str
    success: bool
    tls: bool


def _encrypted(server: SMTP) -> bool:
    # session.ssl is only set after STARTTLS; the transport knows about implicit TLS too.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class _Handler:
    username: str
    password: str
    refused_senders: dict[str, str] = field(default_factory=dict)
    refused_recipients: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    data_delay: float = 0.0  # seconds before DATA is answered: a slow server
    messages: list[ReceivedMessage] = field(default_factory=list)
    auth_attempts: list[AuthAttempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # aiosmtpd calls these on its own thread; the lock makes the lists safe to read from the test.
    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode(errors="replace") == self.username
            and data.password.decode(errors="replace") == self.password
        )
        login = data.login.decode(errors="replace") if isinstance(data, LoginPassword) else ""
        with self.lock:
            self.auth_attempts.append(AuthAttempt(mechanism, login, ok, _encrypted(server)))
        # handled=False makes aiosmtpd answer 535 itself (handled=True would leave the client
        # waiting for a reply). auth_data holds the login only, never the password.
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        with self.lock:
            reply = self.refused_senders.get(address.lower())
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            reply = self.refused_recipients.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        raw = envelope.original_content or b""
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=raw,
            tls=_encrypted(server),
            authenticated_as=session.auth_data if session.authenticated else None,
            peer=session.peer,
        )
        with self.lock:
            self.messages.append(message)
        return "250 2.0.0 Ok: queued"


class _Controller(Controller):
    """aiosmtpd's Controller serving on a socket bound beforehand to a free port.

    Binding first (port 0) and handing the socket to asyncio avoids the race of "find a free
    port, close it, hope nobody takes it before the server binds".
    """

    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        self._listen_sock = sock
        super().__init__(handler, hostname=LOOPBACK, port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._listen_sock, ssl=self.ssl_context)


class SmtpTestServer:
    """A running SMTP server. ``host``/``port``/``security`` are what a user would type."""

    __test__ = False

    def __init__(
        self,
        certificate: TestCertificate,
        *,
        security: str = "starttls",
        username: str = "mailer",
        password: str = "s3cret-Pa55word!",
        auth_require_tls: bool = True,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        self.certificate = certificate
        self.security = security
        self.username = username
        self.password = password
        self.host = LOOPBACK
        self._handler = _Handler(username=username, password=password)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, 0))
        sock.listen(64)
        sock.setblocking(False)
        self.port: int = sock.getsockname()[1]
        kwargs: dict[str, Any] = {
            "server_hostname": "localhost",
            "authenticator": self._handler.authenticate,
            # False makes a careless server that offers AUTH over plain text, to prove we don't use it.
            "auth_require_tls": auth_require_tls,
            "ready_timeout": 10,
        }
        if security == "starttls":
            kwargs["tls_context"] = certificate.server_context()
        elif security == "tls":
            kwargs["ssl_context"] = certificate.server_context()
            # aiosmtpd's auth_require_tls only recognises STARTTLS and would refuse AUTH with
            # 538 on an implicit-TLS connection, which is encrypted from the first byte.
            kwargs["auth_require_tls"] = False
        self._controller = _Controller(self._handler, sock, **kwargs)

    def start(self) -> SmtpTestServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        with self._handler.lock:
            return list(self._handler.auth_attempts)

    def refuse_sender(self, address: str, reply: str = "553 5.7.1 Sender address rejected: not owned by user") -> None:
        """MAIL FROM:<address> gets ``reply`` (a 550/553 by default) instead of 250."""
        with self._handler.lock:
            self._handler.refused_senders[address.lower()] = reply

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 Recipient address rejected: unknown user") -> None:
        with self._handler.lock:
            self._handler.refused_recipients[address.lower()] = reply

    def answer_slowly(self, seconds: float) -> None:
        """Every DATA is answered only after ``seconds``."""
        with self._handler.lock:
            self._handler.data_delay = seconds

    def refuse_data(self, reply: str = "554 5.7.1 Message rejected as spam") -> None:
        """Every DATA is answered with ``reply`` and nothing is recorded."""
        with self._handler.lock:
            self._handler.data_reply = reply


class SilentServer:
    """Accepts TCP connections and never says a word: the server that hangs a client."""

    __test__ = False

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(16)
        self.host = LOOPBACK
        self.port: int = self._sock.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silent-smtp", daemon=True)

    def _run(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted.append(conn)  # kept open, never written to

    @property
    def connections(self) -> int:
        return len(self._accepted)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._accepted:
            conn.close()
        self._sock.close()


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])

"""SMTP: a customer's own server (through the SSRF guard) or the operator's relay (trusted).

The connection is made by ``netguard`` for customer hosts (resolve once, check the address,
connect to that address) and handed to aiosmtplib as an open socket, so aiosmtplib never
resolves the name itself; TLS is still verified against the name the user typed. A password
is only ever sent once the connection is encrypted.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING, ClassVar, TypeVar

import aiosmtplib
from django.conf import settings

from openesp.esp.providers.base import (
    ConnectionFailed,
    CredentialsRejected,
    HostNotAllowed,
    MessageRejected,
    OutgoingMessage,
    Provider,
    ProviderError,
    SendResult,
    TlsFailed,
    Verdict,
)
from openesp.lib import netguard
from openesp.lib.ratelimit import Limits

if TYPE_CHECKING:
    from openesp.esp.models import EspConfig

T = TypeVar("T")

# What the client is doing at each step, for "timed out while …" messages.
_WAITING_FOR = {
    "resolve": "looking up the host name",
    "connect": "waiting for the server's greeting",
    "tls": "negotiating TLS",
    "ehlo": "waiting for the answer to EHLO",
    "auth": "waiting for the answer to AUTH",
    "sender": "waiting for the answer to MAIL FROM",
    "recipient": "waiting for the answer to RCPT TO",
    "data": "waiting for the answer to DATA",
}


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect. ``guarded`` is False only for the operator's own relay."""

    host: str
    port: int
    security: str  # "starttls", "tls" or "none"
    username: str = ""
    password: str = field(default="", repr=False)
    guarded: bool = True


@dataclass
class Progress:
    """The step an SMTP exchange has reached; read when it fails or times out."""

    step: str = "resolve"


def tls_context() -> ssl.SSLContext:
    """The system's trust store, plus the operator's extra CA file; no verification if told so."""
    context = ssl.create_default_context()
    if settings.OPENESP_SMTP_CA_FILE:
        context.load_verify_locations(cafile=settings.OPENESP_SMTP_CA_FILE)
    if not settings.OPENESP_SMTP_TLS_VERIFY:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_socket(server: SmtpServer, timeout: float, progress: Progress) -> socket.socket:
    """A TCP connection to the server; for guarded hosts, to the address the guard checked."""
    progress.step = "resolve"
    source = settings.OPENESP_SMTP_SOURCE_ADDRESS
    if not server.guarded:
        progress.step = "connect"
        try:
            return socket.create_connection(
                (server.host, server.port), timeout, source_address=(source, 0) if source else None
            )
        except OSError as exc:
            raise _connect_error(server, exc, timeout) from None
    try:
        target = netguard.resolve(server.host, server.port)
    except netguard.HostRefused as exc:
        raise HostNotAllowed(str(exc), step="resolve", verdict=Verdict.PERMANENT) from None
    except netguard.ResolveFailed as exc:
        raise ConnectionFailed(str(exc), step="resolve") from None
    progress.step = "connect"
    try:
        return netguard.connect(target, timeout)
    except OSError as exc:
        raise _connect_error(server, exc, timeout) from None


def _connect_error(server: SmtpServer, exc: OSError, timeout: float) -> ConnectionFailed:
    where = f"{server.host} port {server.port}"
    if isinstance(exc, TimeoutError):
        return ConnectionFailed(f"connecting to {where} timed out after {timeout:g} seconds", step="connect")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailed(f"{where} refused the connection (nothing listens there)", step="connect")
    return ConnectionFailed(f"could not connect to {where}: {exc.strerror or exc}", step="connect")


def _encrypted(client: aiosmtplib.SMTP) -> bool:
    return client.get_transport_info("sslcontext") is not None


async def start_session(server: SmtpServer, sock: socket.socket, progress: Progress, timeout: float) -> aiosmtplib.SMTP:
    """Greeting, EHLO, STARTTLS or implicit TLS as configured, EHLO again, AUTH over TLS only."""
    implicit = server.security == "tls"
    client = aiosmtplib.SMTP(
        hostname=server.host,  # certificates are checked against the name the user typed
        sock=sock,
        use_tls=implicit,
        start_tls=False,  # _start decides about STARTTLS itself, so "none offered" is an error
        tls_context=tls_context() if server.security != "none" else None,
        timeout=timeout,
        local_hostname=settings.OPENESP_MAIL_DOMAIN,
    )
    try:
        await _start(client, server, progress, implicit)
    except BaseException:
        client.close()
        raise
    return client


async def _start(client: aiosmtplib.SMTP, server: SmtpServer, progress: Progress, implicit: bool) -> None:
    progress.step = "tls" if implicit else "connect"
    await client.connect()
    progress.step = "ehlo"
    await client.ehlo()
    if server.security == "starttls":
        progress.step = "tls"
        if not client.supports_extension("starttls"):
            raise TlsFailed(
                f"{server.host} does not offer STARTTLS; choose security “none” only if you accept "
                "unencrypted mail, or use port 465 with TLS if the server supports it",
                step="tls",
            )
        await client.starttls()
        progress.step = "ehlo"
        await client.ehlo()
    if server.username or server.password:
        progress.step = "auth"
        if not _encrypted(client):
            # Validation already refuses a password with security "none"; this guards the
            # operator relay and any future caller as well.
            raise TlsFailed("the connection is not encrypted, so the password was not sent", step="auth")
        await client.login(server.username, server.password)


async def transmit(
    client: aiosmtplib.SMTP, sender: str, recipients: tuple[str, ...], data: bytes, progress: Progress
) -> SendResult:
    """MAIL FROM, RCPT TO for each recipient, DATA; each step's refusal says which step it was."""
    progress.step = "sender"
    await client.mail(sender)
    progress.step = "recipient"
    for recipient in recipients:
        await client.rcpt(recipient)
    progress.step = "data"
    response = await client.data(data)
    return SendResult(provider_message_id=response.message, detail=f"{response.code} {response.message}")


def translate(exc: BaseException, progress: Progress, server: SmtpServer, timeout: float) -> ProviderError:
    """An aiosmtplib/ssl/socket failure as a ProviderError with the step it happened at."""
    step = progress.step
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):  # asyncio.wait_for and aiosmtplib's own timeouts alike
        return ConnectionFailed(
            f"timed out after {timeout:g} seconds {_WAITING_FOR.get(step, 'waiting for the server')}",
            step=step,
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return CredentialsRejected(
            f"the server refused the username or password: {exc.code} {exc.message}",
            step="auth",
            verdict=Verdict.TEMPORARY,  # our credentials are wrong, not the message
            smtp_code=exc.code,
            provider_text=exc.message,
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return MessageRejected(
            f"the server refused the sender {exc.sender}: {exc.code} {exc.message}",
            step="sender",
            smtp_code=exc.code,
            provider_text=exc.message,
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return MessageRejected(
            f"the server refused the recipient {exc.recipient}: {exc.code} {exc.message}",
            step="recipient",
            smtp_code=exc.code,
            provider_text=exc.message,
            recipient=exc.recipient,
        )
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return MessageRejected(
            f"the server refused the message: {exc.code} {exc.message}",
            step="data",
            smtp_code=exc.code,
            provider_text=exc.message,
        )
    tls_problem = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(tls_problem, ssl.SSLError):
        if isinstance(tls_problem, ssl.SSLCertVerificationError):
            reason = f"the server's certificate could not be verified ({tls_problem.verify_message})"
        else:
            reason = str(getattr(tls_problem, "reason", None) or tls_problem)
        return TlsFailed(f"TLS with {server.host} failed: {reason}", step="tls")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        where = "greeted with" if step == "connect" else "answered"
        return ConnectionFailed(
            f"the server {where}: {exc.code} {exc.message}", step=step, smtp_code=exc.code, provider_text=exc.message
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return ConnectionFailed(f"the server closed the connection ({_WAITING_FOR.get(step, step)})", step=step)
    if isinstance(exc, aiosmtplib.SMTPException):
        return ConnectionFailed(f"{exc.message}", step=step)
    if isinstance(exc, OSError):
        return ConnectionFailed(f"the connection failed: {exc.strerror or exc}", step=step)
    raise exc


def smtp_server_for(config: EspConfig) -> SmtpServer:
    """A customer's SMTP server from a saved config; the password is decrypted here, on use."""
    return SmtpServer(
        host=config.host,
        port=config.port or 587,
        security=config.security or "starttls",
        username=config.username,
        password=config.get_password(),
        guarded=True,
    )


def build_message(message: OutgoingMessage) -> bytes:
    """A plain, correct RFC 5322 message (Date, Message-ID, From, To, Subject, text[/html])."""
    mime = EmailMessage(policy=SMTP_POLICY)
    mime["Date"] = format_datetime(datetime.now(UTC))
    mime["Message-ID"] = (
        f"<{message.message_id}>" if message.message_id else make_msgid(domain=settings.OPENESP_MAIL_DOMAIN)
    )
    mime["From"] = formataddr((message.from_name, message.from_email)) if message.from_name else message.from_email
    mime["To"] = ", ".join(message.to)
    mime["Subject"] = message.subject
    for name, value in message.headers:
        mime[name] = value
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime.as_bytes()


class SmtpProvider(Provider):
    kind: ClassVar[str] = "smtp"
    label: ClassVar[str] = "SMTP"
    badge: ClassVar[str] = "⇄"
    customer_server: ClassVar[bool] = True

    @classmethod
    def for_config(cls, config: EspConfig) -> SmtpProvider:
        return cls(smtp_server_for(config))

    @classmethod
    def limits(cls, config: EspConfig | None) -> Limits:
        """A customer's server carries its own limits in its config, held across all workers."""
        if config is None:
            return Limits()
        return Limits(
            per_second=config.max_per_second,
            window_count=config.window_count,
            window_seconds=config.window_seconds,
            connections=config.max_connections or settings.OPENESP_SMTP_CONNECTIONS,
        )

    def __init__(self, server: SmtpServer, *, timeout: float | None = None) -> None:
        self.server = server
        self.timeout = float(timeout if timeout is not None else settings.OPENESP_SMTP_TIMEOUT)

    def __repr__(self) -> str:
        return f"<SmtpProvider {self.server.host}:{self.server.port} {self.server.security}>"

    def run(self, work: Callable[[aiosmtplib.SMTP, Progress], Awaitable[T]], progress: Progress | None = None) -> T:
        """Connect, start the session, do ``work``, QUIT; all within ``self.timeout`` seconds.

        The TCP connect happens before the event loop starts, with its own timeout, so that a
        blocking connect cannot outlive the bound; the SMTP part runs under ``wait_for`` with
        whatever time is left. (Name resolution is bounded by the system resolver only.)
        """
        progress = progress or Progress()
        deadline = time.monotonic() + self.timeout
        sock = open_socket(self.server, self.timeout, progress)
        try:
            return asyncio.run(self._session(sock, work, progress, deadline))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise translate(exc, progress, self.server, self.timeout) from None
        finally:
            sock.close()

    async def _session(
        self,
        sock: socket.socket,
        work: Callable[[aiosmtplib.SMTP, Progress], Awaitable[T]],
        progress: Progress,
        deadline: float,
    ) -> T:
        async def everything() -> T:
            client = await start_session(self.server, sock, progress, max(deadline - time.monotonic(), 0.1))
            try:
                result = await work(client, progress)
            except BaseException:
                client.close()
                raise
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()  # the message is already accepted; a failed QUIT changes nothing
            return result

        return await asyncio.wait_for(everything(), timeout=max(deadline - time.monotonic(), 0.1))

    def check_credentials(self) -> str:
        async def nothing(client: aiosmtplib.SMTP, progress: Progress) -> str:
            return "logged in" if self.server.username else "connected"

        return self.run(nothing)

    def send(self, message: OutgoingMessage, progress: Progress | None = None) -> SendResult:
        data = build_message(message)

        async def send_one(client: aiosmtplib.SMTP, progress: Progress) -> SendResult:
            return await transmit(client, message.from_email, message.to, data, progress)

        return self.run(send_one, progress)

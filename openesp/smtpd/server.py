"""The SMTP submission server (aiosmtpd): a STARTTLS port and an implicit-TLS port.

The protocol runs on one asyncio loop; every decision that reads or writes the database
(``accept``) runs in a pool of threads, so a slow commit holds up only its own session. The
``250`` to DATA is sent after ``accept`` returned, that is after the commit.

Hardening beyond aiosmtpd's defaults: AUTH only after TLS (on the STARTTLS port every command
but EHLO/STARTTLS/QUIT waits for TLS), MAIL before AUTH answered ``530 5.7.0``, at most
``MAX_RECIPIENTS`` RCPT (``452 4.5.3``), the size limit advertised and enforced
(``552 5.3.4``), and any bare CR or LF in the data refused: aiosmtpd ends DATA only at
``CRLF.CRLF`` and reads lines up to CRLF, so ``\\n.\\r\\n`` or ``\\r\\n.\\n`` would reach the
message intact, and a relay further on that ends DATA there would see a second, smuggled
message (SMTP smuggling, CVE-2023-51764).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from django.conf import settings
from django.db import DatabaseError, connection

from openesp.messaging.models import Message
from openesp.smtpd.accept import (
    MAX_RECIPIENTS,
    USER,
    Incoming,
    Refused,
    Sender,
    accept_many,
    authenticate,
    check_from,
)
from openesp.smtpd.tls import server_certificate

log = logging.getLogger("openesp.smtpd")
T = TypeVar("T")

THREADS = 8  # database threads: AUTH and MAIL checks beside the one group commit
MAX_BATCH = 500  # messages in one group commit
SENDER_CHECK_EVERY = 60.0  # seconds a session's sender stays checked (see allowed_senders)
_BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_PENDING = "pending"  # marks credentials that ``_authenticate`` hands on to the async check
# aiosmtpd's own wording of the size refusals, given their enhanced status code (RFC 3463).
_SIZE_REPLIES = {
    "552 Error: Too much mail data": "552 5.3.4 Message too big for system",
    "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Message size exceeds fixed limit",
}


class SubmissionSMTP(SMTP):
    """aiosmtpd's SMTP with credentials checked in a database thread, not on the loop."""

    def __init__(self, handler: SubmissionHandler, **kwargs: Any) -> None:
        self.openesp = handler
        super().__init__(handler, **kwargs)

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            # A reason may quote what the client sent: never let it end the reply line early.
            status = _SIZE_REPLIES.get(status, status).replace("\r", " ").replace("\n", " ")
        await super().push(status)

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        # Called synchronously by aiosmtpd's AUTH PLAIN/LOGIN once it has the credentials; the
        # database look-up happens in ``_checked`` instead.
        return AuthResult(success=False, handled=False, message=_PENDING, auth_data=auth_data)

    async def _checked(self, result: AuthResult) -> AuthResult:
        if result.message != _PENDING or not isinstance(result.auth_data, LoginPassword):
            return result
        assert self.session is not None
        client = str(self.session.peer[0]) if isinstance(self.session.peer, tuple) else "unknown"
        try:
            login, password = result.auth_data
            sender = await self.openesp.run(authenticate, login, password, client)
        except Refused as refusal:
            reply = str(refusal)
            await self.push(reply)
            if reply.startswith("421"):
                assert self.transport is not None
                self.transport.close()
            return AuthResult(success=False, handled=True)
        except DatabaseError:
            log.exception("AUTH: database error")
            await self.push("454 4.7.0 temporary authentication failure; try again later")
            return AuthResult(success=False, handled=True)
        return AuthResult(success=True, auth_data=sender)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._checked(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._checked(await super().auth_LOGIN(_, args))


class GroupCommit:
    """DATA of many sessions queued in one transaction: while one batch commits, the messages
    that arrive wait and go together in the next (one fsync for all of them, not one each).
    Each session still gets its 250 only after the transaction holding its message committed."""

    def __init__(self, handler: SubmissionHandler) -> None:
        self.handler = handler
        self.waiting: list[tuple[Incoming, asyncio.Future[list[Message] | Refused]]] = []
        self.draining = False

    async def accept(self, incoming: Incoming) -> list[Message]:
        future: asyncio.Future[list[Message] | Refused] = asyncio.get_running_loop().create_future()
        self.waiting.append((incoming, future))
        if not self.draining:
            self.draining = True
            asyncio.get_running_loop().create_task(self._drain())
        result = await future
        if isinstance(result, Refused):
            raise result
        return result

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                try:
                    results = await self.handler.run(accept_many, [incoming for incoming, _f in batch])
                except Exception as exc:
                    for _incoming, future in batch:
                        future.set_exception(exc)
                    continue
                for (_incoming, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
        finally:
            self.draining = False


class SubmissionHandler:
    """aiosmtpd's hooks: each command's checks, and DATA queued before its 250."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor
        self.commits = GroupCommit(self)
        # (key, address) → when MAIL last found the key may send from it: a session sending
        # many messages from one address is checked once a minute, not once a message.
        self.allowed_senders: dict[tuple[int, str], float] = {}

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, call, *args)
        except DatabaseError:
            # The thread's connection may be broken (a restarted database): the next call opens
            # a new one instead of failing too.
            await loop.run_in_executor(self.executor, connection.close)
            raise

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        sender = session.auth_data
        assert isinstance(sender, Sender)  # aiosmtpd answered 530 5.7.0 without AUTH
        remembered = (sender.key.pk, address.lower())
        try:
            if time.monotonic() - self.allowed_senders.get(remembered, -SENDER_CHECK_EVERY) >= SENDER_CHECK_EVERY:
                await self.run(check_from, sender, address)
                if len(self.allowed_senders) > 10_000:
                    self.allowed_senders.clear()
                self.allowed_senders[remembered] = time.monotonic()
        except Refused as refusal:
            return str(refusal)
        except DatabaseError:
            log.exception("MAIL: database error")
            return "451 4.3.0 temporary failure; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients (at most {MAX_RECIPIENTS} per message)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        assert isinstance(raw, bytes) and isinstance(session.auth_data, Sender)
        if _BARE_LINE_END.search(raw):
            return "550 5.6.11 bare CR or LF in the message: lines must end with CRLF"
        try:
            incoming = Incoming(session.auth_data, envelope.mail_from or "", list(envelope.rcpt_tos), raw)
            messages = await self.commits.accept(incoming)
        except Refused as refusal:
            return str(refusal)
        except DatabaseError:
            log.exception("DATA: database error")
            return "451 4.3.0 temporary failure, nothing was queued; try again later"
        return f"250 2.0.0 OK: queued {len(messages)} as {messages[0].public_id}"


@dataclass(frozen=True)
class Listener:
    port: int
    implicit_tls: bool


def listeners() -> list[Listener]:
    """The ports configured: STARTTLS (``OPENESP_SMTP_PORT``) and TLS (``OPENESP_SMTPS_PORT``)."""
    found = []
    if settings.OPENESP_SMTP_PORT:
        found.append(Listener(settings.OPENESP_SMTP_PORT, implicit_tls=False))
    if settings.OPENESP_SMTPS_PORT:
        found.append(Listener(settings.OPENESP_SMTPS_PORT, implicit_tls=True))
    return found


def _protocol(handler: SubmissionHandler, context: ssl.SSLContext, implicit_tls: bool) -> SubmissionSMTP:
    with warnings.catch_warnings():
        # aiosmtpd warns of AUTH without TLS when auth_require_tls is off; on the implicit-TLS
        # port the whole session is encrypted (see below), so the warning does not apply.
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        return _smtp(handler, context, implicit_tls)


def _smtp(handler: SubmissionHandler, context: ssl.SSLContext, implicit_tls: bool) -> SubmissionSMTP:
    return SubmissionSMTP(
        handler,
        data_size_limit=settings.OPENESP_SMTP_MAX_BYTES,
        enable_SMTPUTF8=True,
        decode_data=False,
        hostname=settings.OPENESP_MAIL_DOMAIN,
        ident="openesp",
        auth_required=True,
        # On the TLS port the whole session is encrypted, but aiosmtpd knows only of STARTTLS:
        # it would refuse AUTH there unless told not to check.
        auth_require_tls=not implicit_tls,
        require_starttls=not implicit_tls,
        tls_context=None if implicit_tls else context,
        auth_exclude_mechanism=["CRAM-MD5"],
    )


async def serve(
    context: ssl.SSLContext,
    stop: threading.Event,
    started: Callable[[list[int]], None],
    ports: list[Listener] | None = None,
    *,
    reuse_port: bool = False,
) -> None:
    """Listen on ``ports`` (the configured ones by default; port 0 picks a free one) until
    ``stop`` is set; ``started`` gets the bound port numbers."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="smtpd-db")
    handler = SubmissionHandler(executor)
    servers = []
    for listener in listeners() if ports is None else ports:
        servers.append(
            await loop.create_server(
                lambda implicit=listener.implicit_tls: _protocol(handler, context, implicit),
                host=settings.OPENESP_SMTP_HOST,
                port=listener.port,
                ssl=context if listener.implicit_tls else None,
                # Several processes on one port (``openesp smtp --processes``): the kernel
                # spreads the connections over them.
                reuse_port=reuse_port,
            )
        )
    started([s.sockets[0].getsockname()[1] for s in servers])
    try:
        while not stop.is_set():
            await asyncio.sleep(0.2)
    finally:
        for server in servers:
            server.close()
        executor.shutdown(wait=True)


def run(stop: threading.Event, say: Callable[[str], None] = log.info, *, reuse_port: bool = False) -> None:
    """The submission server until ``stop`` is set (``openesp smtp``, and a component of
    ``openesp serve``); ``say`` gets the start-up line with the ports and the certificate."""
    # aiosmtpd logs every command (addresses included) at INFO, and a deprecation warning at
    # every AUTH: the first would fill the log with personal data, the second is not ours to fix.
    protocol_log = logging.getLogger("mail.log")
    protocol_log.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
    protocol_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    # …and, on the implicit-TLS port, a warning per connection that AUTH does not require TLS:
    # there the whole session is TLS (aiosmtpd only knows of STARTTLS; see _smtp).
    protocol_log.addFilter(lambda record: "auth_require_tls == False" not in record.getMessage())
    if not listeners():
        say("openesp: SMTP submission is off (OPENESP_SMTP_PORT=0 and OPENESP_SMTPS_PORT=0)")
        return
    certificate = server_certificate()

    def started(ports: list[int]) -> None:
        kinds = [("STARTTLS" if not lst.implicit_tls else "TLS") for lst in listeners()]
        where = ", ".join(
            f"{settings.OPENESP_SMTP_HOST}:{port} ({kind})" for port, kind in zip(ports, kinds, strict=True)
        )
        origin = "self-signed, in the data directory" if certificate.self_signed else str(certificate.cert_file)
        say(
            f"openesp: SMTP submission on {where}; AUTH user {USER!r}, password an API key; "
            f"certificate {origin}, SHA-256 fingerprint {certificate.fingerprint()}"
        )

    asyncio.run(serve(certificate.context(), stop, started, reuse_port=reuse_port))

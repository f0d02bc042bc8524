"""Pooled SMTP sessions for the delivery worker: many messages per connection, several
connections per server, opened through the same guarded path as *Test connection*."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from openesp.delivery.smtpclient import SmtpConnection
from openesp.esp.providers.base import ProviderError, SendResult
from openesp.esp.providers.smtp import Progress, SmtpServer, open_socket, translate

# A connection is retired after this many messages or seconds, as MTAs expect of clients.
MAX_MESSAGES_PER_CONNECTION = 1000
MAX_IDLE_SECONDS = 30.0


@dataclass
class _Session:
    client: SmtpConnection
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)


class SmtpPool:
    """Sessions to one server, kept open between batches. The caller bounds how many are used
    at once (the connection slots it holds); ``trim`` closes idle ones beyond that."""

    def __init__(self, server: SmtpServer, *, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self._idle: list[_Session] = []

    async def _open(self) -> _Session:
        progress = Progress()
        loop = asyncio.get_running_loop()
        try:
            # The guarded connect (resolve once, check, connect) blocks; keep it off the loop.
            sock = await loop.run_in_executor(None, open_socket, self.server, self.timeout, progress)
            client = await asyncio.wait_for(SmtpConnection.open(self.server, sock, progress), timeout=self.timeout)
        except BaseException as exc:
            if isinstance(exc, ProviderError):
                raise
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
            raise translate(exc, progress, self.server, self.timeout) from None
        return _Session(client)

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def send(self, sender: str, recipients: tuple[str, ...], data: bytes) -> SendResult:
        session = self._idle.pop() if self._idle else await self._open()
        progress = Progress(step="sender")
        try:
            result = await asyncio.wait_for(
                session.client.send(sender, recipients, data, progress), timeout=self.timeout
            )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                session.client.close()
                raise
            error = translate(exc, progress, self.server, self.timeout)
            await self._after_failure(session, error)
            raise error from None
        session.sent += 1
        session.last_used = time.monotonic()
        if session.sent >= MAX_MESSAGES_PER_CONNECTION:
            await _quit(session)
        else:
            self._idle.append(session)
        return result

    async def trim(self, keep: int) -> None:
        """Close idle sessions beyond ``keep`` (the slots still held)."""
        while len(self._idle) > keep:
            await _quit(self._idle.pop(0))

    async def _after_failure(self, session: _Session, error: ProviderError) -> None:
        # A refused sender/recipient/message leaves the session usable after RSET; anything
        # else (timeouts, disconnects, TLS) means the connection is not to be trusted.
        if error.step in ("sender", "recipient", "data") and error.smtp_code is not None:
            try:
                await asyncio.wait_for(session.client.rset(), timeout=self.timeout)
            except Exception:  # RSET failed: the session is not to be trusted
                session.client.close()
                return
            self._idle.append(session)
        else:
            session.client.close()

    async def close_idle(self, older_than: float = MAX_IDLE_SECONDS) -> None:
        now = time.monotonic()
        keep = []
        for session in self._idle:
            if now - session.last_used >= older_than:
                await _quit(session)
            else:
                keep.append(session)
        self._idle = keep

    async def close(self) -> None:
        await self.close_idle(older_than=-1)


async def _quit(session: _Session) -> None:
    try:
        await asyncio.wait_for(session.client.quit(), timeout=5)
    except Exception:  # the server may be gone already; the session is closed either way
        session.client.close()

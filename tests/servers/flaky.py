"""A scripted SMTP server for fault tests: it can greet with 421, answer 451, drop the
connection mid-transaction, refuse a recipient with 550, or work normally.

Deliberately small and plain (asyncio streams, no TLS/AUTH): what it tests is the worker's
reaction to each kind of failure, not the protocol's finer points.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FlakySmtpServer:
    # "greet421", "rcpt451", "drop", "ok"; read at every command, so open sessions follow a change
    mode: str = "ok"
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply, in every mode
    pipelining: bool = True  # advertise PIPELINING (commands are read line by line either way)
    received: list[tuple[str, bytes]] = field(default_factory=list)  # (recipient, data)
    connections: int = 0
    host: str = "127.0.0.1"
    port: int = 0

    def start(self) -> FlakySmtpServer:
        sock = socket.socket()
        sock.bind((self.host, 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._client, sock=sock)
            ready.set()

        self._thread = threading.Thread(target=self._run, args=(serve,), daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def _run(self, serve: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1

        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            if self.mode == "greet421":
                await reply("421 4.3.2 Service not available, closing transmission channel")
                return
            await reply("220 flaky ESMTP")
            rcpts: list[str] = []
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    await reply("250-flaky\r\n250 PIPELINING" if self.pipelining else "250 flaky")
                elif verb == "MAIL":
                    rcpts = []
                    await reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    address = line.split(":", 1)[1].strip().strip("<>").lower()
                    if address in self.refuse:
                        await reply(self.refuse[address])
                    elif self.mode == "rcpt451":
                        await reply("451 4.3.0 Temporary failure, try again later")
                    else:
                        rcpts.append(address)
                        await reply("250 2.1.5 OK")
                elif verb == "DATA":
                    if self.mode == "drop":
                        return  # hang up without a word, as a crashing server would
                    if not rcpts:  # as Postfix does: nothing to deliver to
                        await reply("554 5.5.1 Error: no valid recipients")
                        continue
                    await reply("354 go ahead")
                    lines = []
                    while (data_line := await reader.readline()) not in (b".\r\n", b""):
                        lines.append(data_line)
                    data = b"".join(lines)
                    for address in rcpts:
                        self.received.append((address, data))
                    await reply(f"250 2.0.0 Ok: queued as Q{len(self.received):05d}")
                elif verb == "RSET":
                    rcpts = []
                    await reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    await reply("221 bye")
                    return
                else:
                    await reply("502 5.5.2 not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

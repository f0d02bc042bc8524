"""The inbound MX: bounce mail for VERP addresses, on ``OPENESP_MX_PORT`` (default 2526).

An aiosmtpd server without AUTH (mail servers deliver bounces unauthenticated) that takes a
recipient only when it is a valid VERP address of ours (``events.verp``; anything else: 550),
stores the mail in the inbox and answers 250 only after the commit. Processing happens later,
in the workers. ``start_mx`` is self-contained so that any process can run it: ``openesp serve``
starts it when a bounce domain is set, ``openesp mx`` runs it alone.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import close_old_connections, connections

from openesp.events.inbox import MAX_MAIL_BYTES, store_mail
from openesp.events.verp import read

log = logging.getLogger("openesp.mx")


class BounceHandler:
    """aiosmtpd's handler: RCPT checks the VERP address, DATA stores the mail."""

    def __init__(self) -> None:
        # The ORM is synchronous: database work runs in this one thread, off the event loop.
        self.database = ThreadPoolExecutor(1, thread_name_prefix="openesp-mx-db")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if read(address) is None:
            return "550 5.1.1 no such bounce address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await asyncio.get_running_loop().run_in_executor(self.database, _store, list(envelope.rcpt_tos), raw)
        except Exception:
            log.exception("mx: storing a bounce mail failed")
            return "451 4.3.0 could not store the message, try again later"
        return "250 2.0.0 stored"


def _store(recipients: list[str], raw: bytes) -> int:
    close_old_connections()  # a connection the database closed since the last mail is replaced
    return store_mail(recipients, raw)


class MxController(Controller):
    handler: BounceHandler

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert)
        # close_all looks the connection up in the thread it runs in: the database thread's.
        self.handler.database.submit(connections.close_all).result()
        self.handler.database.shutdown()


def start_mx(host: str, port: int, **options: Any) -> MxController:
    """Start the MX in a thread of its own and return its controller (``.stop()`` ends it)."""
    controller = MxController(
        BounceHandler(),
        hostname=host,
        port=port,
        data_size_limit=MAX_MAIL_BYTES,
        server_hostname=options.pop("server_hostname", None),
        ready_timeout=options.pop("ready_timeout", 30.0),
        **options,
    )
    controller.start()
    log.info("mx: accepting bounce mail on %s:%s", host, port)
    return controller

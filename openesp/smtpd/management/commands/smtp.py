"""``openesp smtp``: the SMTP submission server alone (``openesp serve`` runs it too).

``--processes N`` runs N servers on the same ports (SO_REUSEPORT: the kernel spreads the
connections): one Python process is bound to one core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from openesp.lib.children import run_forwarding_signals
from openesp.lib.heap import settle
from openesp.smtpd.server import listeners, run
from openesp.smtpd.tls import server_certificate


def _run_one(say_start: bool, reuse_port: bool) -> None:
    stop = threading.Event()

    def shut_down(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    connection.close()  # a forked child must not share its parent's database connection

    def say(line: str) -> None:
        if say_start:
            print(line, flush=True)

    try:
        run(stop, say, reuse_port=reuse_port)
    except OSError as exc:
        where = "OPENESP_SMTP_HOST, OPENESP_SMTP_PORT, OPENESP_SMTPS_PORT"
        raise CommandError(f"cannot listen: {exc} ({where})") from exc


class Command(BaseCommand):
    help = "Run the SMTP submission server: STARTTLS on OPENESP_SMTP_PORT, TLS on OPENESP_SMTPS_PORT."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--processes", type=int, default=1, help="server processes on the same ports")

    def handle(self, *args: Any, **options: Any) -> None:
        processes = options["processes"]
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        if processes > 1 and connection.vendor == "sqlite":
            raise CommandError("--processes: SQLite has a single writer; use PostgreSQL for several servers")
        settle()  # before the fork: every server process inherits it
        if processes == 1:
            _run_one(True, reuse_port=False)
            return
        if listeners():
            server_certificate()  # made once, before the children would race to make it
        context = multiprocessing.get_context("fork")
        children = [context.Process(target=_run_one, args=(i == 0, True)) for i in range(processes)]
        if any(run_forwarding_signals(children)):
            raise CommandError("a server process failed (its error is above)")

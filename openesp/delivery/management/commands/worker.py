from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from openesp.delivery.buildpool import build_processes_default
from openesp.delivery.worker import DEFAULT_LEASE, Worker
from openesp.lib.children import run_forwarding_signals
from openesp.lib.heap import settle

log = logging.getLogger("openesp.worker")


def _run_one(batch_size: int, lease_seconds: int, pool_size: int, build_processes: int) -> None:
    stop = threading.Event()

    def shut_down(signum: int, _frame: FrameType | None) -> None:
        # Finish and record the batch in hand, then leave: nothing in flight is lost.
        log.info("signal %s: finishing the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    connection.close()  # a forked child must not share its parent's database connection
    Worker(
        batch_size=batch_size,
        lease=timedelta(seconds=lease_seconds),
        pool_size=pool_size,
        build_processes=build_processes,
    ).run(stop)


class Command(BaseCommand):
    help = "Deliver queued mail. Run one per core (--processes) and as many machines as you like on PostgreSQL."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--processes", type=int, default=1, help="worker processes (one per core)")
        parser.add_argument("--batch-size", type=int, default=200, help="messages claimed at a time")
        parser.add_argument(
            "--lease",
            type=int,
            default=int(DEFAULT_LEASE.total_seconds()),
            help="seconds a claim lasts unless renewed (every third of it, while the worker lives) before others retry",
        )
        parser.add_argument("--connections", type=int, default=8, help="SMTP connections per server and process")
        parser.add_argument(
            "--build-processes",
            type=int,
            default=build_processes_default(),
            help="processes that render and DKIM-sign beside each worker (default: one per core)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        processes = options["processes"]
        if processes < 1 or options["batch_size"] < 1 or options["connections"] < 1 or options["lease"] < 2:
            raise CommandError("--processes, --batch-size and --connections must be at least 1, --lease at least 2")
        if processes > 1 and connection.vendor == "sqlite":
            raise CommandError("--processes: SQLite has a single writer; use PostgreSQL for several workers")
        if options["build_processes"] < 0:
            raise CommandError("--build-processes must be 0 or more")
        work = (options["batch_size"], options["lease"], options["connections"], options["build_processes"])
        settle()  # before the fork: every worker process inherits it
        if processes == 1:
            _run_one(*work)
            return
        children = [multiprocessing.get_context("fork").Process(target=_run_one, args=work) for _ in range(processes)]
        run_forwarding_signals(children)

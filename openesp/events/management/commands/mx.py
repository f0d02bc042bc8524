"""``openesp mx``: the inbound MX for bounce mail alone (``openesp serve`` also runs it)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from openesp.events.mx import start_mx


class Command(BaseCommand):
    help = "Receive bounce mail for VERP addresses on OPENESP_MX_PORT (no AUTH; only valid VERP recipients)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.OPENESP_MX_HOST, help="address to listen on")
        parser.add_argument("--port", type=int, default=settings.OPENESP_MX_PORT, help="port (0: off)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.OPENESP_BOUNCE_DOMAIN:
            raise CommandError("OPENESP_BOUNCE_DOMAIN is not set: there are no bounce addresses to receive mail for")
        if options["port"] == 0:
            raise CommandError("OPENESP_MX_PORT is 0: the MX is switched off")
        controller = start_mx(options["host"], options["port"])
        self.stdout.write(f"openesp mx: bounce mail for @{settings.OPENESP_BOUNCE_DOMAIN} on "
                          f"{options['host']}:{options['port']}", ending="\n")  # fmt: skip
        self.stdout.flush()
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            controller.stop()

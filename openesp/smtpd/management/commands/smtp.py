"""``openesp smtp``: the SMTP submission server alone (``openesp serve`` runs it too)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from openesp.smtpd.server import run


class Command(BaseCommand):
    help = "Run the SMTP submission server: STARTTLS on OPENESP_SMTP_PORT, TLS on OPENESP_SMTPS_PORT."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def shut_down(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)

        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            run(stop, say)
        except OSError as exc:
            raise CommandError(
                f"cannot listen: {exc} (OPENESP_SMTP_HOST, OPENESP_SMTP_PORT, OPENESP_SMTPS_PORT)"
            ) from exc

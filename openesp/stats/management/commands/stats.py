"""``openesp stats rebuild``: recount the daily statistics from the message and event log."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from openesp.stats.rebuild import rebuild


class Command(BaseCommand):
    help = "Statistics. 'rebuild': recount every daily counter from the messages and events (workers stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rebuild"])

    def handle(self, *args: Any, **options: Any) -> None:
        events = rebuild()
        self.stdout.write(f"statistics rebuilt from {events} events")

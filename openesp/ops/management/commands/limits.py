"""``openesp limits [list] | lift KEY… | prune``: what the abuse limits block now, and lifting it.

The limits themselves are in ``openesp/accounts/limits.py``; their state is rows of the database
rate limiter, shared by every process, so this sees and lifts a block whichever process set it.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from openesp.accounts.limits import PREFIXES
from openesp.lib import ratelimit


def _duration(seconds: float) -> str:
    seconds = max(1, int(-(-seconds // 1)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Command(BaseCommand):
    help = (
        "List what the abuse limits (log-in, sign-up, mail requests, API keys) block now and why; "
        "lift a block; prune the state of limits long run out."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action")
        sub.add_parser("list", help="what is blocked now, longest first (the default)")
        lift = sub.add_parser("lift", help="lift a block: forget the key's failures and counts")
        lift.add_argument("keys", nargs="+", metavar="KEY", help="a key as list shows it")
        sub.add_parser("prune", help="delete the state of limits not used for two days")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options.get("action") or "list"
        if action == "list":
            blocks = [b for b in ratelimit.blocked() if b.key.startswith(PREFIXES)]
            if not blocks:
                self.stdout.write("nothing is blocked")
                return
            for block in blocks:
                self.stdout.write(f"{block.key}\tblocked for {_duration(block.seconds_left)}\t{block.reason}")
        elif action == "lift":
            unknown = [key for key in options["keys"] if not key.startswith(PREFIXES)]
            if unknown:
                raise CommandError(f"KEY: {unknown[0]!r} is not a key of an abuse limit (see openesp limits list)")
            for key in options["keys"]:
                if not ratelimit.lift(key):
                    raise CommandError(f"KEY: {key!r} is not limited (see openesp limits list)")
                self.stdout.write(f"lifted {key}")
        else:
            self.stdout.write(f"pruned {ratelimit.prune(PREFIXES)} idle limit(s)")

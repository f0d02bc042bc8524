"""The ``openesp`` command: Django's management commands under openesp's settings.

``openesp serve``, ``openesp migrate``, ``openesp createuser``, ``openesp apikey`` … are all
management commands; this entry point only selects the settings module.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _leave_quietly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["worker"] and argv is None:
        # Stopped while it starts (a supervisor's SIGTERM right after a restart): nothing is
        # claimed yet, so it leaves with success. The command installs its own handler, which
        # finishes the batch in hand, before it claims anything.
        signal.signal(signal.SIGTERM, _leave_quietly)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openesp.settings")
    from django.core.management import execute_from_command_line

    from openesp.lib.env import ConfigError

    try:
        execute_from_command_line(["openesp", *args])
    except ConfigError as exc:
        sys.stderr.write(f"openesp: configuration error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

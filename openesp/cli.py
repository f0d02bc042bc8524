"""The ``openesp`` command: Django's management commands under openesp's settings.

``openesp serve``, ``openesp migrate``, ``openesp createuser``, ``openesp apikey`` … are all
management commands; this entry point only selects the settings module.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openesp.settings")
    from django.core.management import execute_from_command_line

    from openesp.lib.env import ConfigError

    try:
        execute_from_command_line(["openesp", *(sys.argv[1:] if argv is None else argv)])
    except ConfigError as exc:
        sys.stderr.write(f"openesp: configuration error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

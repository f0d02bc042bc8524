from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from openesp.accounts.actions import create_user_cli
from openesp.lib.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Create a personal account (verified) with the password read from a file or standard input; "
        "--superuser makes the server's operator."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--password-file", required=True, help="file holding the password; '-' reads standard input"
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="the server's operator: sees the Outbox (platform mail no provider can carry, with its links)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["password_file"]
        try:
            raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--password-file: cannot read {source}: {exc.strerror}") from None
        password = raw.rstrip("\r\n")
        if not password:
            raise CommandError("--password-file: the file is empty")
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("--password-file: " + " ".join(exc.messages)) from None
        try:
            user = create_user_cli(options["email"], password, superuser=options["superuser"])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created {user.email}" + (" (superuser)" if user.is_superuser else ""))

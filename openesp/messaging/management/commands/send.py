"""``openesp send``: queue a transactional message from the command line.

The same path as ``POST /api/v1/messages`` (``parse_submission`` + ``submit``), acting as the
account named by ``--user``; it prints one message id per recipient. A worker delivers them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.http import Http404

from openesp.accounts.access import can_edit, workspace_for
from openesp.accounts.models import User
from openesp.lib.errors import InvalidInput
from openesp.messaging.submit import SenderNotAllowed, parse_submission, submit

# Submission fields (as InvalidInput names them) → the option to blame.
_OPTIONS = {
    "from": "--from",
    "to": "--to",
    "cc": "--cc",
    "bcc": "--bcc",
    "reply_to": "--reply-to",
    "subject": "--subject",
    "text": "--text-file",
    "html": "--html-file",
    "category": "--category",
    "send_at": "--send-at",
}


def _option(field: str) -> str:
    base = re.split(r"[\[.]", field, maxsplit=1)[0]
    return _OPTIONS.get(base, field)


def _read(option: str, source: str | None) -> str:
    if source is None:
        return ""
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{option}: cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{option}: {source} is not UTF-8 text") from None


class Command(BaseCommand):
    help = "Queue a transactional message (one per recipient) and print the message ids."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--user", required=True, help="the account sending (its address, as for createuser)")
        parser.add_argument("--from", dest="from_", metavar="ADDR", required=True, help="the From address")
        parser.add_argument("--to", action="append", required=True, help="a recipient; repeat for several")
        parser.add_argument("--cc", action="append", default=[], help="a Cc recipient; repeat for several")
        parser.add_argument("--bcc", action="append", default=[], help="a Bcc recipient; repeat for several")
        parser.add_argument("--reply-to", default="")
        parser.add_argument("--subject", required=True)
        parser.add_argument("--text-file", help="the plain-text body; '-' reads standard input")
        parser.add_argument("--html-file", help="the HTML body")
        parser.add_argument("--workspace", type=int, help="send in this workspace (default: as the user alone)")
        parser.add_argument("--category", default="", help="default: transactional")
        parser.add_argument("--send-at", default="", help="ISO 8601 with a time zone, e.g. 2026-12-01T09:00:00Z")
        parser.add_argument("--sandbox", action="store_true", help="validate and record, deliver nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["user"].strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"--user: no active account with the address {options['user']}")
        workspace = None
        if options["workspace"] is not None:
            try:
                workspace = workspace_for(user, options["workspace"])
            except Http404:
                raise CommandError(f"--workspace: {user.email} has no workspace {options['workspace']}") from None
            if not can_edit(user, workspace):
                raise CommandError(f"--workspace: {user.email} is a viewer there and cannot send mail")
        if options["text_file"] is None and options["html_file"] is None:
            raise CommandError("--text-file: give --text-file, --html-file or both")
        data: dict[str, Any] = {
            "from": options["from_"],
            "to": options["to"],
            "cc": options["cc"],
            "bcc": options["bcc"],
            "reply_to": options["reply_to"],
            "subject": options["subject"],
            "text": _read("--text-file", options["text_file"]),
            "html": _read("--html-file", options["html_file"]),
            "category": options["category"],
            "send_at": options["send_at"] or None,
            "sandbox": options["sandbox"],
        }
        try:
            submission = parse_submission(data)
            with transaction.atomic():
                messages = submit(
                    user,
                    submission,
                    organization=workspace.organization if workspace else None,
                    workspace=workspace,
                )
        except InvalidInput as exc:
            raise CommandError("; ".join(f"{_option(p.field)}: {p.reason}" for p in exc.problems)) from None
        except SenderNotAllowed as exc:
            raise CommandError(f"--from: {exc}") from None
        for message in messages:
            self.stdout.write(str(message.public_id))

"""``openesp apikey create|list|revoke``: API keys from the command line.

``create`` prints only the new key on standard output, so scripts can capture it:
``KEY=$(openesp apikey create --user alice@example.org)``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from openesp.accounts import apikeys
from openesp.accounts.models import SCOPES, User
from openesp.lib.errors import InvalidInput

# Which command-line option each action's field comes from, for error messages.
_OPTION = {"scopes": "--scope", "name": "--name", "workspace": "--workspace", "prefix": "PREFIX"}


def _user(email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"--user: no account has the address {email}")
    return user


def _fail(exc: InvalidInput) -> CommandError:
    return CommandError("; ".join(f"{_OPTION.get(p.field, p.field)}: {p.reason}" for p in exc.problems))


class Command(BaseCommand):
    help = "Create, list and revoke API keys."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it (it is shown only this once)")
        create.add_argument("--user", required=True, help="e-mail address of the key's user")
        create.add_argument("--workspace", type=int, help="bind the key to this workspace id")
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            metavar="SCOPE",
            help=f"repeatable; one of {', '.join(SCOPES)}; default: all a key of its kind may have",
        )
        create.add_argument("--name", default="", help="a label to recognise the key by")
        listing = sub.add_parser("list", help="list a user's keys (never the keys themselves)")
        listing.add_argument("--user", required=True, help="e-mail address of the user")
        revoke = sub.add_parser("revoke", help="revoke a key")
        revoke.add_argument("prefix", metavar="PREFIX", help="the key's prefix, as shown by list")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            self._list(options)
        else:
            try:
                key = apikeys.revoke_api_key_by_prefix(options["prefix"])
            except InvalidInput as exc:
                raise _fail(exc) from None
            self.stdout.write(f"revoked {key.prefix} of {key.user.email}")

    def _create(self, options: dict[str, Any]) -> None:
        user = _user(options["user"])
        try:
            _row, key = apikeys.create_api_key(
                user, workspace=options["workspace"], scopes=options["scopes"], name=options["name"]
            )
        except Http404:
            raise CommandError(f"--workspace: no workspace {options['workspace']} that {user.email} can use") from None
        except InvalidInput as exc:
            raise _fail(exc) from None
        self.stdout.write(key)

    def _list(self, options: dict[str, Any]) -> None:
        user = _user(options["user"])
        for key in apikeys.api_keys_for(user):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            where = f"workspace {key.workspace_id}" if key.workspace_id else "personal"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            self.stdout.write(f"{key.prefix}  {state:<18} {where:<14} {','.join(key.scopes):<54} {used:<17} {key.name}")

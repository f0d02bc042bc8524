"""``openesp suppressions list|add|remove``: the operator's view of suppressed addresses.

Only the operator runs the CLI, so it is also the one place where an operator-global
suppression (``--global``: mail to the address stops in every workspace) is added or lifted.
Every change leaves a ``SuppressionAudit`` row with no actor and the source ``cli``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from openesp.accounts.models import Workspace
from openesp.audience import actions, suppressions
from openesp.audience.models import Suppression, SuppressionReason
from openesp.audience.suppressions import GlobalSuppression
from openesp.lib.errors import InvalidInput

SOURCE = "cli"


def _workspace(workspace_id: int) -> Workspace:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        raise CommandError(f"--workspace: no workspace has the id {workspace_id}")
    return workspace


def _scope(parser: argparse.ArgumentParser, *, required: bool) -> None:
    scope = parser.add_mutually_exclusive_group(required=required)
    scope.add_argument("--workspace", type=int, metavar="ID", help="a workspace's suppressions")
    scope.add_argument("--global", dest="is_global", action="store_true", help="the operator's, for all workspaces")


class Command(BaseCommand):
    help = "List, add or remove suppressed addresses of a workspace or for all workspaces (--global)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser(
            "list", help="suppressed addresses: a workspace's and the global ones, only the global ones, or all"
        )
        listing.add_argument("email", metavar="EMAIL", nargs="?", help="only addresses containing this")
        _scope(listing, required=False)
        add = sub.add_parser("add", help="suppress an address")
        add.add_argument("email", metavar="EMAIL")
        _scope(add, required=True)
        add.add_argument(
            "--reason",
            default=SuppressionReason.MANUAL,
            help=f"{', '.join(SuppressionReason.values)} (default: manual)",
        )
        add.add_argument("--detail", default="", help="a note kept with the suppression")
        remove = sub.add_parser("remove", help="lift a suppression")
        remove.add_argument("email", metavar="EMAIL")
        _scope(remove, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = _workspace(options["workspace"]) if options.get("workspace") is not None else None
        try:
            if options["action"] == "list":
                self._list(workspace, options["is_global"], options["email"] or "")
            elif options["action"] == "add":
                self._add(workspace, options["email"], options["reason"], options["detail"])
            else:
                self._remove(workspace, options["email"])
        except InvalidInput as exc:
            raise CommandError("; ".join(f"{_option(p.field)}: {p.reason}" for p in exc.problems)) from None

    def _list(self, workspace: Workspace | None, only_global: bool, search: str) -> None:
        rows = Suppression.objects.all()
        if workspace is not None:
            rows = rows.filter(Q(workspace=workspace) | Q(workspace__isnull=True))
        elif only_global:
            rows = rows.filter(workspace__isnull=True)
        if search:
            rows = rows.filter(email__contains=search.strip().lower())
        for s in rows.order_by("email", "workspace_id").iterator():
            scope = "global" if s.workspace_id is None else f"workspace {s.workspace_id}"
            self.stdout.write(f"{s.email}\t{scope}\t{s.reason}\t{s.source or '-'}\t{s.created_at:%Y-%m-%d %H:%M}")

    def _add(self, workspace: Workspace | None, email: str, reason: str, detail: str) -> None:
        _address, key = actions.normalise_email(email)
        existing = Suppression.objects.filter(workspace=workspace, email=key).first()
        suppression = suppressions.add_suppression(workspace, email, reason, source=SOURCE, detail=detail)
        where = _where(workspace)
        if existing is not None:
            self.stdout.write(f"{key} was suppressed {where} already ({existing.reason}); nothing changed")
        else:
            self.stdout.write(f"suppressed {suppression.email} {where} ({suppression.reason})")

    def _remove(self, workspace: Workspace | None, email: str) -> None:
        _address, key = actions.normalise_email(email)
        if workspace is None:
            removed = suppressions.remove_global_suppression(email, source=SOURCE)
        else:
            try:
                removed = suppressions.remove_suppression(workspace, email, source=SOURCE)
            except GlobalSuppression:
                raise CommandError(
                    f"EMAIL: {key} is suppressed for all workspaces, not by workspace {workspace.pk}; "
                    "lift it with --global"
                ) from None
        if not removed:
            raise CommandError(f"EMAIL: {key} is not suppressed {_where(workspace)}")
        self.stdout.write(f"lifted the suppression of {key} {_where(workspace)}")


def _where(workspace: Workspace | None) -> str:
    return "for all workspaces" if workspace is None else f"in workspace {workspace.pk}"


def _option(field: str) -> str:
    return {"email": "EMAIL", "reason": "--reason"}.get(field, field)

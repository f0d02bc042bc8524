"""``openesp contacts export|record|erase``: a workspace's contacts from the command line.

``export`` writes the same formula-safe CSV as ``GET /api/v1/workspaces/{id}/contacts/export``;
``record`` prints everything held about one contact (GDPR access request), the JSON of
``GET /api/v1/contacts/{id}/export``; ``erase`` is the GDPR erasure of
``DELETE /api/v1/contacts/{id}``. Both find the contact by address.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from openesp.accounts.models import Workspace
from openesp.audience.actions import normalise_email
from openesp.audience.consent import Consent
from openesp.audience.export import export_contacts_csv
from openesp.audience.gdpr import erase_contact, export_contact_data
from openesp.audience.models import ConsentSource, Contact
from openesp.lib.errors import InvalidInput


def _workspace(workspace_id: int) -> Workspace:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        raise CommandError(f"--workspace: no workspace has the id {workspace_id}")
    return workspace


class Command(BaseCommand):
    help = "Export a workspace's contacts as CSV, print one contact's full record, or erase a contact (GDPR)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the workspace's contacts as CSV")
        export.add_argument("--workspace", type=int, required=True, help="the workspace id")
        export.add_argument("--output", help="a file to write (default: standard output)")
        record = sub.add_parser("record", help="print everything held about a contact, as JSON (GDPR access)")
        record.add_argument("--workspace", type=int, required=True, help="the workspace id")
        record.add_argument("email", metavar="EMAIL", help="the contact's address")
        erase = sub.add_parser("erase", help="erase a contact, its subscriptions and consent records")
        erase.add_argument("--workspace", type=int, required=True, help="the workspace id")
        erase.add_argument("email", metavar="EMAIL", help="the contact's address")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = _workspace(options["workspace"])
        if options["action"] == "export":
            self._export(workspace, options["output"])
        elif options["action"] == "record":
            record = export_contact_data(self._contact(workspace, options["email"]))
            self.stdout.write(json.dumps(record, ensure_ascii=False, indent=2))
        else:
            contact = self._contact(workspace, options["email"])
            erase_contact(contact, None, Consent(source=ConsentSource.ADMIN, detail="openesp contacts erase"))
            self.stdout.write(f"erased {options['email']} from workspace {workspace.pk}")

    def _export(self, workspace: Workspace, output: str | None) -> None:
        lines = export_contacts_csv(workspace)
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)

    def _contact(self, workspace: Workspace, email: str) -> Contact:
        try:
            _address, key = normalise_email(email)
        except InvalidInput as exc:
            raise CommandError(f"EMAIL: {exc.problems[0].reason}") from None
        contact = Contact.objects.filter(workspace=workspace, email_key=key).first()
        if contact is None:
            raise CommandError(f"EMAIL: workspace {workspace.pk} has no contact {email}")
        return contact

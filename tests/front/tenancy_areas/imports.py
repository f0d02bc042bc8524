"""Outsider rows for the CSV import pages of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import imports
from openesp.audience.actions import create_list

TABLE = {
    "ws-imports": (["ws"], ("get", "post")),
    "ws-import-map": (["ws"], ("get", "post")),
    "ws-import": (["ws", "import"], ("get",)),
    "ws-import-status": (["ws", "import"], ("get",)),
    "ws-import-report": (["ws", "import"], ("get",)),
    "ws-import-cancel": (["ws", "import"], ("post",)),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    contact_list = create_list(workspace, "Imported")
    stored = imports.store_upload([b"email\nann@example.com\n"])
    job = imports.create_job(workspace, contact_list, stored, file_name="acme.csv", actor=alice)
    return {"import": job.pk}

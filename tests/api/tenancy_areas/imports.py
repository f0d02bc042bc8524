"""Outsider rows for the CSV import API."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import imports
from openesp.audience.actions import create_list
from openesp.audience.models import ImportJob, ImportProblem
from tests.api.tenancy_areas import Route

ROUTES = [
    # The body is empty: the list is looked up (and refused) before the file is asked for.
    Route("POST", "/api/v1/lists/{list_id}/imports", {}),
    Route("GET", "/api/v1/imports?workspace={workspace_id}"),
    Route("GET", "/api/v1/imports/{import_id}"),
    Route("GET", "/api/v1/imports/{import_id}/report"),
    Route("POST", "/api/v1/imports/{import_id}/cancel"),
]


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    contact_list = create_list(workspace, "Imported")
    stored = imports.store_upload([b"email\nbad-address\n"])
    # Queued, so that a cancel that got through would change it; with a report line to leak.
    job = imports.create_job(workspace, contact_list, stored, file_name="acme.csv", actor=alice)
    ImportProblem.objects.create(job=job, row_number=1, reason="email: bad", raw="bad-address")
    return {"import_id": job.pk}


def snapshot() -> list[list[Any]]:
    return [
        list(ImportJob.objects.order_by("pk").values()),
        list(ImportProblem.objects.order_by("pk").values()),
    ]

"""Helpers for the import tests: queue a CSV and run it to the end with the real runner."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import User, Workspace
from openesp.audience import imports
from openesp.audience.models import ConsentRecord, Contact, ContactList, ImportJob, Subscription, Suppression


def queue(
    workspace: Workspace, contact_list: ContactList, data: bytes | str, *, actor: User | None = None, **kw: Any
) -> ImportJob:
    raw = data.encode() if isinstance(data, str) else data
    stored = imports.store_upload([raw])
    return imports.create_job(workspace, contact_list, stored, file_name="contacts.csv", actor=actor, **kw)


def run_all() -> None:
    while imports.run_pending("test-runner"):
        pass


def run_import(workspace: Workspace, contact_list: ContactList, data: bytes | str, **kw: Any) -> ImportJob:
    job = queue(workspace, contact_list, data, **kw)
    run_all()
    job.refresh_from_db()
    return job


def problems(job: ImportJob) -> list[tuple[int, str]]:
    return list(job.problems.order_by("row_number").values_list("row_number", "reason"))


def snapshot(workspace: Workspace) -> list[list[Any]]:
    """Everything an import may change, to compare before and after."""
    return [
        list(Contact.objects.filter(workspace=workspace).order_by("pk").values()),
        list(Subscription.objects.filter(contact__workspace=workspace).order_by("pk").values()),
        list(ConsentRecord.objects.filter(workspace=workspace).order_by("pk").values()),
        list(Suppression.objects.order_by("pk").values()),
    ]

"""Import jobs: the uploaded file, the queue of jobs, their end, and the report of bad rows.

The upload is written to ``DATA_DIR/imports`` (mode 0600) and an ``ImportJob`` is queued; the
API answers 202 only after that commit. A runner (``imports.runner``) claims a queued job, or a
running one whose lease has run out, with one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), like the delivery queue. The file is deleted when the job ends; the report of bad
rows stays in ``ImportProblem``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience import attribute_keys
from openesp.audience.imports.check import Plan
from openesp.audience.imports.mapping import auto_mapping, check_mapping
from openesp.audience.imports.read import ImportRefused, Sniffed, sniff
from openesp.audience.models import ContactList, ImportJob, ImportMode, ImportProblem, ImportStatus
from openesp.lib.downloads import line_writer, safe_cell
from openesp.lib.errors import InvalidInput

BATCH_ROWS = 20_000
LEASE = timedelta(seconds=60)
FINAL = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)
# Uploads waiting for their mapping (the UI's second step) are removed after this long.
PENDING_UPLOAD_AGE = timedelta(days=1)


def imports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# --- the uploaded file -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative to DATA_DIR/imports
    size: int
    sha256: str

    @property
    def path(self) -> Path:
        return imports_dir() / self.name


def too_large_reason() -> str:
    return f"is larger than the limit of {settings.OPENESP_IMPORT_MAX_BYTES:,} bytes (OPENESP_IMPORT_MAX_BYTES)"


def store_upload(chunks: Iterable[bytes], *, prefix: str = "upload") -> StoredFile:
    """Write an upload to the imports directory, private to openesp; InvalidInput naming
    ``file`` when it is over ``OPENESP_IMPORT_MAX_BYTES`` or empty (nothing is kept then)."""
    name = f"{prefix}-{secrets.token_hex(16)}.csv"
    path = imports_dir() / name
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > settings.OPENESP_IMPORT_MAX_BYTES:
                    raise InvalidInput.one("file", too_large_reason())
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInput.one("file", "is empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredFile(name, size, digest.hexdigest())


def stored_file(name: str) -> StoredFile | None:
    """A pending upload by its name, if it is still there (names come from signed sessions)."""
    if "/" in name or not name.startswith("upload-"):
        return None
    path = imports_dir() / name
    if not path.is_file():
        return None
    return StoredFile(name, path.stat().st_size, "")


def discard(name: str) -> None:
    if name:
        (imports_dir() / Path(name).name).unlink(missing_ok=True)


def inspect(stored: StoredFile) -> Sniffed:
    """Encoding, delimiter, header; ImportRefused (naming ``file``) when it cannot be imported."""
    return sniff(stored.path)


# --- jobs --------------------------------------------------------------------------------------


def create_job(
    workspace: Workspace,
    contact_list: ContactList,
    stored: StoredFile,
    *,
    file_name: str,
    mode: str = ImportMode.SUBSCRIBE,
    mapping: dict[str, str] | None = None,
    consent_text_version: str = "",
    actor: User | None = None,
    sniffed: Sniffed | None = None,
    lease_owner: str = "",
    lease: timedelta = LEASE,
) -> ImportJob:
    """Queue an import of a stored upload (InvalidInput for a bad mode or mapping; the file is
    then discarded). With ``lease_owner`` the job starts out claimed by that runner (the CLI)."""
    assert contact_list.workspace_id == workspace.pk
    try:
        if mode not in ImportMode.values:
            raise InvalidInput.one("mode", f"must be one of {', '.join(ImportMode.values)}")
        if len(consent_text_version) > 64:
            raise InvalidInput.one("consent_text_version", "must be at most 64 characters")
        sniffed = sniffed or inspect(stored)
        warnings = list(sniffed.warnings)
        if mapping is None:
            mapping, more = auto_mapping(sniffed.header)
            warnings += more
            if "email" not in mapping.values():
                raise ImportRefused.one(
                    "file", "has no email column: name one email, e-mail, e-post or mail, or send a mapping"
                )
        else:
            mapping = check_mapping(sniffed.header, mapping)
        now = timezone.now()
        stored_name = stored.name
        if stored_name.startswith("upload-"):
            # Queued files get their own name, so a pending upload is never taken twice.
            stored_name = "job-" + stored_name[len("upload-") :]
            os.replace(stored.path, imports_dir() / stored_name)
        job = ImportJob.objects.create(
            workspace=workspace,
            contact_list=contact_list,
            list_name=contact_list.name,
            mode=mode,
            status=ImportStatus.RUNNING if lease_owner else ImportStatus.QUEUED,
            file_name=(file_name or "import.csv")[:255],
            file_path=f"imports/{stored_name}",
            file_size=stored.size,
            file_sha256=stored.sha256,
            encoding=sniffed.encoding,
            delimiter=sniffed.delimiter,
            mapping=mapping,
            consent_text_version=consent_text_version,
            warnings=warnings,
            rows_total=sniffed.lines,
            byte_offset=sniffed.data_offset,
            created_by=actor,
            lease_owner=lease_owner,
            lease_until=now + lease if lease_owner else None,
            started_at=now if lease_owner else None,
        )
    except BaseException:
        discard(stored.name)
        raise
    return job


def cancel(job: ImportJob, *, owner: str = "") -> ImportJob:
    """Stop a queued or running job; a running one stops when its batch in hand tries to commit
    (that batch is rolled back). Idempotent. ``owner``: the runner itself, stopping (its file
    can go at once)."""
    ImportJob.objects.filter(pk=job.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    stopped = job.lease_until is None or job.lease_until < timezone.now() or (owner and job.lease_owner == owner)
    if job.status == ImportStatus.CANCELLED and stopped:
        remove_file(job)
    return job


def claim(owner: str, *, lease: timedelta = LEASE, job_id: int | None = None) -> ImportJob | None:
    """Claim the oldest queued job, or a running one whose runner's lease ran out."""
    now = timezone.now()
    table = ImportJob._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    only = "AND id = %s" if job_id is not None else ""
    sql = f"""
        UPDATE {table}
           SET status = 'running', lease_owner = %s, lease_until = %s, started_at = COALESCE(started_at, %s)
         WHERE id = (
             SELECT id FROM {table}
              WHERE (status = 'queued' OR (status = 'running' AND lease_until < %s)) {only}
              ORDER BY created_at, id LIMIT 1 {lock}
         )
        RETURNING id
    """  # noqa: S608 - only our table name is interpolated
    params: list[Any] = [owner, now + lease, now, now]
    if job_id is not None:
        params.append(job_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return ImportJob.objects.get(pk=row[0]) if row else None


class LeaseLost(Exception):
    """The job is no longer this runner's (cancelled, or taken over after a lease ran out)."""


class ListDeleted(Exception):
    """The job's list was deleted while it ran."""


def renew(job: ImportJob, owner: str, lease: timedelta, **progress: Any) -> None:
    """Extend the lease (and record ``progress``) while the job is still this runner's and
    running; LeaseLost otherwise."""
    moved = ImportJob.objects.filter(pk=job.pk, lease_owner=owner, status=ImportStatus.RUNNING).update(
        lease_until=timezone.now() + lease, **progress
    )
    if not moved:
        raise LeaseLost


def plan_for(job: ImportJob, header: list[str]) -> Plan:
    """How the job's rows become contacts. Its attribute names are put in the workspace's
    spelling here, once per job (registering the new ones), never per row."""
    contact_list = job.contact_list
    assert contact_list is not None
    plan = Plan.build(
        header,
        job.mapping,
        workspace_id=job.workspace_id,
        list_id=contact_list.pk,
        list_name=contact_list.name,
        double_opt_in=contact_list.double_opt_in,
        mode=job.mode,
        consent_detail=f"import {job.pk}",
        consent_text_version=job.consent_text_version,
        actor_id=job.created_by_id,
        job_id=job.pk,
    )
    if not plan.attributes or plan.mode == ImportMode.UNSUBSCRIBE:  # that mode writes no attributes
        return plan
    names = attribute_keys.register(job.workspace_id, [name for name, _i in plan.attributes])
    return replace(plan, attributes=tuple((names[attribute_keys.fold(n)], i) for n, i in plan.attributes))


def job_file(job: ImportJob) -> Path:
    return Path(settings.DATA_DIR) / job.file_path


def remove_file(job: ImportJob) -> None:
    if job.file_path:
        job_file(job).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(file_path="")
        job.file_path = ""


def finish(job: ImportJob, owner: str, status: str, error: str = "") -> None:
    now = timezone.now()
    # Once done, the row count is known exactly (the estimate counted lines).
    rows_total = job.rows_done if status == ImportStatus.DONE else job.rows_total
    ended = ImportJob.objects.filter(pk=job.pk, lease_owner=owner, status=ImportStatus.RUNNING).update(
        status=status, error=error[:2000], finished_at=now, lease_until=None, rows_total=rows_total
    )
    job.refresh_from_db()
    if ended or job.status in FINAL:
        remove_file(job)


def sweep() -> None:
    """Files of ended jobs whose runner died before deleting them, and abandoned uploads."""
    now = timezone.now()
    for job in ImportJob.objects.filter(status__in=FINAL).exclude(file_path=""):
        if job.lease_until is None or job.lease_until < now:
            remove_file(job)
    cutoff = time.time() - PENDING_UPLOAD_AGE.total_seconds()
    for path in imports_dir().glob("upload-*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue


# --- the report --------------------------------------------------------------------------------


def report_csv(job: ImportJob) -> Iterator[str]:
    """The bad rows as CSV (row, reason, raw), formula-safe, streamed."""
    writer = line_writer()
    yield writer.writerow(["row", "reason", "raw"])
    problems = ImportProblem.objects.filter(job=job).order_by("row_number", "id")
    for row, reason, raw in problems.values_list("row_number", "reason", "raw").iterator(chunk_size=2000):
        yield writer.writerow([row, safe_cell(reason), safe_cell(raw)])

"""CSV import jobs: the uploaded file, the queue of jobs, and the runner that works them off.

The upload is written to ``DATA_DIR/imports`` (mode 0600) and an ``ImportJob`` is queued; the
API answers 202 only after that commit. A runner (``openesp serve`` runs one; split deployments
run ``openesp import --runner``) claims a queued job, or a running one whose lease has run out,
with one conditional UPDATE (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), like the delivery queue.

Each batch's writes and the job's progress (``rows_done``, ``byte_offset``, the counts, a longer
lease) commit in ONE transaction, and the progress UPDATE only matches while the job is still
this runner's and still running. So a runner killed at any moment leaves the job exactly at the
end of its last committed batch, and the runner that takes it over starts there: no row is
counted twice and no ledger row is written twice. A job cancelled meanwhile stops when the
batch in hand tries to commit: that batch is rolled back, the batches committed before stay.
The file is deleted when the job ends; the report of bad rows stays in ``ImportProblem``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience import import_helper
from openesp.audience.actions import email_hash, safe_cell
from openesp.audience.importer import (
    Applier,
    ImportRefused,
    Outcome,
    Plan,
    Records,
    Row,
    Sniffed,
    Validated,
    auto_mapping,
    check_mapping,
    check_record,
    sniff,
    validate_addresses,
    write_problems,
)
from openesp.audience.models import ContactList, ImportJob, ImportMode, ImportProblem, ImportStatus
from openesp.lib.errors import InvalidInput
from openesp.lib.workers import worker_name

log = logging.getLogger("openesp.imports")

BATCH_ROWS = 5000
LEASE = timedelta(seconds=60)
FINAL = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)
# Uploads waiting for their mapping (the UI's second step) are removed after this long.
PENDING_UPLOAD_AGE = timedelta(days=1)
# Files of at least this many lines get a helper process that validates addresses.
PARALLEL_MIN_ROWS = 50_000
SQLITE_CACHE_KIB = 32 * 1024


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
        _remove_file(job)
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


def _renew(job: ImportJob, owner: str, lease: timedelta, **progress: Any) -> None:
    """Extend the lease (and record ``progress``) while the job is still this runner's and
    running; LeaseLost otherwise."""
    moved = ImportJob.objects.filter(pk=job.pk, lease_owner=owner, status=ImportStatus.RUNNING).update(
        lease_until=timezone.now() + lease, **progress
    )
    if not moved:
        raise LeaseLost


Progress = Callable[[ImportJob], None]


def _plan(job: ImportJob, header: list[str]) -> Plan:
    contact_list = job.contact_list
    assert contact_list is not None
    return Plan.build(
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


def _path(job: ImportJob) -> Path:
    return Path(settings.DATA_DIR) / job.file_path


def _remove_file(job: ImportJob) -> None:
    if job.file_path:
        _path(job).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(file_path="")
        job.file_path = ""


def _finish(job: ImportJob, owner: str, status: str, error: str = "") -> None:
    now = timezone.now()
    # Once done, the row count is known exactly (the estimate counted lines).
    rows_total = job.rows_done if status == ImportStatus.DONE else job.rows_total
    ended = ImportJob.objects.filter(pk=job.pk, lease_owner=owner, status=ImportStatus.RUNNING).update(
        status=status, error=error[:2000], finished_at=now, lease_until=None, rows_total=rows_total
    )
    job.refresh_from_db()
    if ended or job.status in FINAL:
        _remove_file(job)


class _Batches:
    """Reads the job's records from its offset and cuts them into checked batches."""

    def __init__(
        self, job: ImportJob, plan: Plan, data_offset: int, batch_rows: int, owner: str, lease: timedelta
    ) -> None:
        self.job = job
        self.owner = owner
        self.lease = lease
        self.batch_rows = batch_rows
        self.plan = plan
        self.seen: dict[str, int] = {}
        self.max_rows = settings.OPENESP_IMPORT_MAX_ROWS
        self.pool: ProcessPoolExecutor | None = None
        self.helper_checked = False
        if job.byte_offset > data_offset:
            self._replay(data_offset, job.byte_offset)

    def _records(self, start: int, row: int) -> Records:
        return Records(
            _path(self.job),
            self.job.encoding,
            self.job.delimiter,
            start,
            row,
            header_width=self.plan.width,
            strict_columns=self.plan.strict_columns,
        )

    def _replay(self, start: int, stop: int) -> None:
        """Taken over mid-file: learn the addresses of the rows done, to find duplicates of them.
        The lease is renewed as it goes (a million rows take ~25 s)."""
        batch: list[Row] = []
        for record in self._records(start, 0):
            if record.end > stop or record.row > self.max_rows:
                break
            if record.row % self.batch_rows == 0:
                _renew(self.job, self.owner, self.lease)
            checked = check_record(self.plan, record)
            if isinstance(checked, Row):
                batch.append(checked)
            if len(batch) >= self.batch_rows:
                self._dedupe(batch, Outcome())
                batch = []
        self._dedupe(batch, Outcome())

    def _dedupe(self, batch: list[Row], outcome: Outcome, results: list[Validated] | None = None) -> list[Row]:
        if results is None:
            results = validate_addresses([r.address for r in batch], self.plan.workspace_id)
        valid: list[Row] = []
        for row, result in zip(batch, results, strict=True):
            if isinstance(result, str):
                outcome.skip(row.row, result, row.record.raw)
                continue
            row.email, row.key, row.hash = result
            first = self.seen.get(row.key)
            if first is not None:
                outcome.skip(row.row, f"duplicate of row {first}", row.record.raw)
                continue
            self.seen[row.key] = row.row
            valid.append(row)
        return valid

    def _read(self) -> Iterator[tuple[list[Row], Outcome, int, int, bool]]:
        """Batches of checked rows, their addresses not validated yet."""
        batch: list[Row] = []
        outcome = Outcome()
        read = 0
        end = self.job.byte_offset
        over = False
        for record in self._records(self.job.byte_offset, self.job.rows_done):
            read += 1
            end = record.end
            if record.row > self.max_rows:
                # Counted, not reported row by row: the warning says why.
                if record.fields is None or any(f.strip() for f in record.fields):
                    outcome.skipped += 1
                    over = True
            else:
                checked = check_record(self.plan, record)
                if isinstance(checked, Row):
                    batch.append(checked)
                elif checked is not None:
                    outcome.skip(record.row, checked, record.raw)
            if read >= self.batch_rows:
                yield batch, outcome, read, end, over
                batch, outcome, read, over = [], Outcome(), 0, False
        if read:
            yield batch, outcome, read, end, over

    def __iter__(self) -> Iterator[tuple[list[Row], Outcome, int, int, bool]]:
        """(rows to apply, outcome so far, rows read, end offset, over the row limit).

        With a helper process, the addresses of the next batch are validated there while the
        caller writes this one: validation is the largest cost of a row after the database."""
        pending: tuple[tuple[list[Row], Outcome, int, int, bool], Future[list[Validated]]] | None = None
        for batch in self._read():
            if self.pool is None:
                yield (self._dedupe(batch[0], batch[1]), *batch[1:])
                continue
            future = self.pool.submit(import_helper.validate, [r.address for r in batch[0]], self.plan.workspace_id)
            if pending is not None:
                done, results = pending
                yield (self._dedupe(done[0], done[1], self._checked(results.result())), *done[1:])
            pending = (batch, future)
        if pending is not None:
            done, results = pending
            yield (self._dedupe(done[0], done[1], self._checked(results.result())), *done[1:])

    def _checked(self, results: list[Validated]) -> list[Validated]:
        """The helper's results, once it is known to hash addresses with our key: a ledger row
        with another key's hash would name nobody, silently."""
        if not self.helper_checked:
            for result in results:
                if not isinstance(result, str):
                    _email, key, hashed = result
                    if hashed != email_hash(self.plan.workspace_id, key):
                        raise RuntimeError("the import's helper process hashes with another SECRET_KEY")
                    self.helper_checked = True
                    break
        return results

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


def _helper_pool(rows: int | None) -> ProcessPoolExecutor | None:
    """A process validating addresses beside the runner, for files worth its start-up (~1 s).

    Spawned, not forked: the runner may share its process with web threads (``openesp serve``)."""
    if (rows or 0) < PARALLEL_MIN_ROWS or (os.cpu_count() or 1) < 2:
        return None
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=import_helper.setup)


def run_job(
    job: ImportJob,
    owner: str,
    *,
    lease: timedelta = LEASE,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportJob:
    """Work a claimed job to its end (or until it is cancelled or taken away)."""
    try:
        if job.contact_list is None:
            _finish(job, owner, ImportStatus.FAILED, "the list was deleted")
            return job
        if not _path(job).is_file():
            _finish(job, owner, ImportStatus.FAILED, "the uploaded file is gone")
            return job
        sniffed = sniff(_path(job))
        plan = _plan(job, sniffed.header)
        if connection.vendor == "sqlite":
            # SQLite's default page cache is 2 MB: once the contact and ledger indexes outgrow
            # it, every insert into them reads pages back and a million-row import slows down
            # as it goes. This connection (the runner's own) gets 32 MB.
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        applier = Applier(plan)
        batches = _Batches(job, plan, sniffed.data_offset, batch_rows, owner, lease)
        batches.pool = _helper_pool(job.rows_total)
        try:
            for rows, outcome, read, end, over in batches:
                _commit_batch(job, owner, lease, applier, rows, outcome, read, end, over)
                if progress is not None:
                    progress(job)
        finally:
            batches.close()
        _finish(job, owner, ImportStatus.DONE)
    except ListDeleted:
        _finish(job, owner, ImportStatus.FAILED, "the list was deleted")
    except LeaseLost:
        job.refresh_from_db()
        log.info("import %s: stopped (%s)", job.pk, job.status)
        if job.status in FINAL:
            _remove_file(job)
    except InvalidInput as exc:
        _finish(job, owner, ImportStatus.FAILED, str(exc))
    except Exception as exc:
        log.exception("import %s failed", job.pk)
        _finish(job, owner, ImportStatus.FAILED, f"internal error: {type(exc).__name__}")
    return job


def _commit_batch(
    job: ImportJob,
    owner: str,
    lease: timedelta,
    applier: Applier,
    rows: list[Row],
    outcome: Outcome,
    read: int,
    end: int,
    over: bool,
) -> None:
    """Apply one batch and record the job's progress in one transaction."""
    for attempt in range(3):
        result = Outcome(outcome.created, outcome.updated, outcome.skipped, list(outcome.problems))
        try:
            with transaction.atomic():
                applier.apply(rows, result)
                write_problems(job.pk, result.problems)
                warnings = job.warnings
                if over and not any(w.startswith("The file has more than") for w in warnings):
                    warnings = [
                        *warnings,
                        f"The file has more than {settings.OPENESP_IMPORT_MAX_ROWS:,} rows "
                        "(OPENESP_IMPORT_MAX_ROWS); the rows after that were skipped.",
                    ]
                _renew(
                    job,
                    owner,
                    lease,
                    rows_done=job.rows_done + read,
                    byte_offset=end,
                    created=job.created + result.created,
                    updated=job.updated + result.updated,
                    skipped=job.skipped + result.skipped,
                    warnings=warnings,
                )
        except IntegrityError:
            # The list deleted meanwhile (its subscriptions' foreign key), or a contact made by
            # someone else between our read and our insert: read again.
            if not ContactList.objects.filter(pk=applier.plan.list_id).exists():
                raise ListDeleted from None
            if attempt == 2:
                raise
            continue
        job.rows_done += read
        job.byte_offset = end
        job.created += result.created
        job.updated += result.updated
        job.skipped += result.skipped
        job.warnings = warnings
        return


def run_pending(owner: str, *, lease: timedelta = LEASE, batch_rows: int = BATCH_ROWS) -> bool:
    """Work off one job if there is one; True if there was."""
    sweep()
    job = claim(owner, lease=lease)
    if job is None:
        return False
    log.info("import %s: %s into list %s", job.pk, job.mode, job.list_name)
    run_job(job, owner, lease=lease, batch_rows=batch_rows)
    return True


def sweep() -> None:
    """Files of ended jobs whose runner died before deleting them, and abandoned uploads."""
    now = timezone.now()
    for job in ImportJob.objects.filter(status__in=FINAL).exclude(file_path=""):
        if job.lease_until is None or job.lease_until < now:
            _remove_file(job)
    cutoff = time.time() - PENDING_UPLOAD_AGE.total_seconds()
    for path in imports_dir().glob("upload-*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue


def run_forever(
    stop: threading.Event, *, lease: timedelta = LEASE, idle: float = 1.0, batch_rows: int = BATCH_ROWS
) -> None:
    """The runner: work jobs until ``stop`` is set. ``openesp serve`` and ``openesp import
    --runner`` run this."""
    owner = worker_name()
    try:
        while not stop.is_set():
            try:
                busy = run_pending(owner, lease=lease, batch_rows=batch_rows)
            except OperationalError:
                log.exception("import runner: database error; retrying")
                busy = False
            finally:
                connection.close_if_unusable_or_obsolete()
            if not busy:
                stop.wait(idle)
    finally:
        connection.close()  # this thread's own connection


# --- the report --------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def report_csv(job: ImportJob) -> Iterator[str]:
    """The bad rows as CSV (row, reason, raw), formula-safe, streamed."""
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", "reason", "raw"])
    problems = ImportProblem.objects.filter(job=job).order_by("row_number", "id")
    for row, reason, raw in problems.values_list("row_number", "reason", "raw").iterator(chunk_size=2000):
        yield writer.writerow([row, safe_cell(reason), safe_cell(raw)])

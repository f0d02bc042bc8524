"""The import runner: work a claimed job off, batch by batch, surviving a crash at any moment.

Each batch's writes and the job's progress (``rows_done``, ``byte_offset``, the counts, a longer
lease) commit in ONE transaction, and the progress UPDATE only matches while the job is still
this runner's and still running. So a runner killed at any moment leaves the job exactly at the
end of its last committed batch, and the runner that takes it over starts there: no row is
counted twice and no ledger row is written twice. A job cancelled meanwhile stops when the
batch in hand tries to commit: that batch is rolled back, the batches committed before stay.
``openesp serve`` runs one runner; split deployments run ``openesp import --runner``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from openesp.audience.consent import email_hash
from openesp.audience.imports.check import Plan, Row, Validated, check_record, validate_addresses
from openesp.audience.imports.jobs import (
    BATCH_ROWS,
    FINAL,
    LEASE,
    LeaseLost,
    ListDeleted,
    claim,
    finish,
    job_file,
    plan_for,
    remove_file,
    renew,
    sweep,
)
from openesp.audience.imports.read import Records, sniff
from openesp.audience.imports.write import Applier, Outcome, write_problems
from openesp.audience.models import ContactList, ImportJob, ImportStatus
from openesp.lib.errors import InvalidInput
from openesp.lib.workers import setup_helper, worker_name

log = logging.getLogger("openesp.imports")

# Files of at least this many lines get a helper process that validates addresses.
PARALLEL_MIN_ROWS = 50_000
SQLITE_CACHE_KIB = 32 * 1024


Progress = Callable[[ImportJob], None]


class _FirstRows:
    """The first row of each address key seen, in two flat arrays (an open-addressing table of
    64-bit key hashes): ~24 MB for a million keys, where a dict of them took ~115 MB, most of
    the runner's memory (decision 023). Two keys sharing a 64-bit hash (odds ~3·10⁻⁸ in a
    million-row file) would report the second as a duplicate of the first: the price of that
    memory. ``hash`` of a str is stable within the process, and so is this table."""

    def __init__(self) -> None:
        self.hashes = array("q", bytes(8 * 1024))  # 0: an empty slot
        self.rows = array("i", bytes(4 * 1024))
        self.used = 0

    def first(self, key: str, row: int) -> int:
        """The row ``key`` was first seen on, or 0 after recording it as seen on ``row``."""
        digest = hash(key) or 1
        hashes = self.hashes
        mask = len(hashes) - 1
        slot = digest & mask
        while hashes[slot]:
            if hashes[slot] == digest:
                return self.rows[slot]
            slot = (slot + 1) & mask
        hashes[slot] = digest
        self.rows[slot] = row
        self.used += 1
        if self.used * 2 > len(hashes):
            self._grow()
        return 0

    def _grow(self) -> None:
        old = zip(self.hashes, self.rows, strict=True)
        size = len(self.hashes) * 2
        self.hashes = array("q", bytes(8 * size))
        self.rows = array("i", bytes(4 * size))
        mask = size - 1
        for digest, row in old:
            if digest:
                slot = digest & mask
                while self.hashes[slot]:
                    slot = (slot + 1) & mask
                self.hashes[slot] = digest
                self.rows[slot] = row


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
        self.seen = _FirstRows()
        self.max_rows = settings.OPENESP_IMPORT_MAX_ROWS
        self.pool: ProcessPoolExecutor | None = None
        self.helper_checked = False
        if job.byte_offset > data_offset:
            self._replay(data_offset, job.byte_offset)

    def _records(self, start: int, row: int) -> Records:
        return Records(
            job_file(self.job),
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
                renew(self.job, self.owner, self.lease)
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
                outcome.skip(row.row, result, row.raw)
                continue
            row.email, row.key, row.hash = result
            first = self.seen.first(row.key, row.row)
            if first:
                outcome.skip(row.row, f"duplicate of row {first}", row.raw)
                continue
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
            future = self.pool.submit(validate_addresses, [r.address for r in batch[0]], self.plan.workspace_id)
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
    return ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=setup_helper, initargs=(os.getpid(),)
    )


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
            finish(job, owner, ImportStatus.FAILED, "the list was deleted")
            return job
        if not job_file(job).is_file():
            finish(job, owner, ImportStatus.FAILED, "the uploaded file is gone")
            return job
        sniffed = sniff(job_file(job))
        plan = plan_for(job, sniffed.header)
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
        finish(job, owner, ImportStatus.DONE)
    except ListDeleted:
        finish(job, owner, ImportStatus.FAILED, "the list was deleted")
    except LeaseLost:
        job.refresh_from_db()
        log.info("import %s: stopped (%s)", job.pk, job.status)
        if job.status in FINAL:
            remove_file(job)
    except InvalidInput as exc:
        finish(job, owner, ImportStatus.FAILED, str(exc))
    except Exception as exc:
        log.exception("import %s failed", job.pk)
        finish(job, owner, ImportStatus.FAILED, f"internal error: {type(exc).__name__}")
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
                renew(
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

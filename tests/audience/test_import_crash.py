"""A runner killed with SIGKILL mid-import: another runner takes the job over where the last
committed batch ended. No row is counted twice, no report line or ledger row is written twice,
and the result is exactly what one uninterrupted run gives (the generator says what that is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from bench.import_csv import generate
from openesp.audience.actions import create_list
from openesp.audience.models import ConsentRecord, Contact, ImportJob, Subscription
from tests.audience.import_helpers import queue
from tests.delivery.test_build_processes import _alive, _children
from tests.processes import Processes, run_database_url, wait_until

REPO = Path(__file__).resolve().parents[2]
ROWS = 60_000  # enough for the helper process that validates addresses to be used too
BATCH = 500


def _start_runner(processes: Processes) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(
        DATABASE_URL=run_database_url(),
        OPENESP_DATA_DIR=str(settings.DATA_DIR),
        OPENESP_SECRET_KEY=settings.SECRET_KEY,  # the ledger's address hashes must match ours
        OPENESP_LOG_LEVEL="WARNING",
    )
    return processes.start(
        [sys.executable, "-m", "openesp", "import", "--runner", "--lease", "3", "--batch-size", str(BATCH)],
        cwd=REPO,
        env=env,
    )


def _job(pk: int) -> ImportJob:
    return ImportJob.objects.get(pk=pk)


@pytest.mark.django_db(transaction=True)
def test_a_runner_killed_mid_import_is_taken_over_exactly_where_it_stopped(workspace, alice, tmp_path, processes):
    path = tmp_path / "contacts.csv"
    expected = generate(path, ROWS, seed=7)
    contact_list = create_list(workspace, "Everyone")
    job = queue(workspace, contact_list, path.read_bytes(), actor=alice)

    first = _start_runner(processes)
    wait_until(lambda: _job(job.pk).rows_done >= 5 * BATCH, "the first batches", every=0.02)
    helpers = _children(first.pid)  # the helper validating addresses (and multiprocessing's tracker)
    assert helpers, "the runner started no helper process"
    processes.stop(first, signal.SIGKILL)  # the runner alone, not its process group
    wait_until(
        lambda: not any(_alive(pid) for pid in helpers), "the runner's helper processes to end with it", every=0.02
    )
    at_kill = _job(job.pk)
    assert at_kill.status == "running", "the runner finished before it could be killed"
    assert 0 < at_kill.rows_done < ROWS
    assert at_kill.rows_done % BATCH == 0  # only whole batches were committed
    assert Contact.objects.count() == at_kill.created

    second = _start_runner(processes)
    try:
        wait_until(lambda: _job(job.pk).status != "running", "the second runner to finish", every=0.02)
    finally:
        processes.stop(second)

    done = _job(job.pk)
    assert done.status == "done", done.error
    assert done.lease_owner != at_kill.lease_owner
    assert (done.created, done.updated, done.skipped, done.rows_done) == (expected.created, 0, expected.skipped, ROWS)
    rows = Counter(done.problems.values_list("row_number", flat=True))
    assert set(rows) == set(expected.problems) and max(rows.values()) == 1
    assert Contact.objects.count() == expected.created
    assert Subscription.objects.filter(contact_list=contact_list).count() == expected.created
    ledger = Counter(ConsentRecord.objects.values_list("contact_id", flat=True))
    assert len(ledger) == expected.created and max(ledger.values()) == 1
    assert done.file_path == "" and not Path(settings.DATA_DIR, at_kill.file_path).exists()

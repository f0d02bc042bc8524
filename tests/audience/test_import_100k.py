"""The judged case: 100,000 generated rows with the faults of a real export (a BOM, semicolons,
duplicates, bad addresses, rows with a field missing, bad language tags, a broken quote, an
unknown column). The expected counts and bad rows come from the generator (``bench.import_csv``),
not from here; importing the same file again must change nothing."""

from __future__ import annotations

import pytest

from bench.import_csv import generate
from openesp.audience.actions import create_list
from tests.audience.import_helpers import run_import, snapshot

pytestmark = pytest.mark.django_db(transaction=False)

ROWS = 100_000


def test_100k_rows_with_faults_import_with_an_exact_report_and_the_second_time_changes_nothing(
    workspace, alice, tmp_path
):
    path = tmp_path / "contacts.csv"
    expected = generate(path, ROWS, seed=2026)
    contact_list = create_list(workspace, "Everyone")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")

    job = run_import(workspace, contact_list, data, actor=alice)

    assert job.status == "done", job.error
    assert (job.encoding, job.delimiter) == ("utf-8", ";")
    assert (job.created, job.updated, job.skipped) == (expected.created, 0, expected.skipped)
    assert job.rows_done == ROWS
    assert [w for w in job.warnings if "Favourite colour" in w]
    got = dict(job.problems.values_list("row_number", "reason"))
    assert set(got) == set(expected.problems)
    wrong = {row: (got[row], why) for row, why in expected.problems.items() if not got[row].startswith(why)}
    assert not wrong
    assert job.problems.count() == expected.skipped  # one report line per skipped row
    assert workspace.contacts.count() == expected.created

    before = snapshot(workspace)
    again = run_import(workspace, contact_list, data, actor=alice)
    assert (again.status, again.created, again.updated, again.skipped) == ("done", 0, 0, expected.skipped)
    assert snapshot(workspace) == before

"""The import's bulk pieces (decision 023): the table of addresses seen, values the packed
columns cannot carry, and the ledger's parents held once a batch."""

from __future__ import annotations

import pytest

from openesp.accounts.models import User
from openesp.audience import imports
from openesp.audience.actions import create_list
from openesp.audience.imports.runner import _FirstRows
from openesp.audience.models import ConsentRecord, Contact, ImportJob, ImportProblem
from tests.audience.import_helpers import problems, queue, run_import

pytestmark = pytest.mark.django_db


def test_the_table_of_addresses_seen_gives_each_first_row_as_it_grows():
    seen = _FirstRows()
    for row in range(1, 5001):  # past several doublings of its first 1,024 slots
        assert seen.first(f"p{row}@example.com", row) == 0
    assert [seen.first(f"p{row}@example.com", 9999) for row in (1, 1024, 2500, 5000)] == [1, 1024, 2500, 5000]
    assert seen.first("", 7) == 0  # hash("") is 0, the empty slot's mark
    assert seen.first("", 8) == 7


def test_a_bad_row_holding_a_separator_is_reported_as_it_was(workspace):
    news = create_list(workspace, "News")
    bad = "ann@example.com,Ann\x1fBerg\x1e"
    job = run_import(workspace, news, f"email,name\n{bad}\nbo@example.com,Bo\n")
    assert (job.created, job.skipped) == (1, 1)
    assert problems(job) == [(1, "name: must be printable text of at most 200 characters")]
    assert ImportProblem.objects.get(job=job).raw == bad


def test_attribute_values_with_control_characters_arrive_unchanged(workspace):
    news = create_list(workspace, "News")
    job = run_import(workspace, news, 'email,city\nann@example.com,"Lu\x1fn\x1ed"\n')
    assert job.created == 1
    assert Contact.objects.get(email="ann@example.com").attributes == {"city": "Lu\x1fn\x1ed"}


def test_the_ledger_names_the_importer_and_the_list(workspace, alice):
    news = create_list(workspace, "News")
    job = run_import(workspace, news, "email\nann@example.com\nbo@example.com\n", actor=alice)
    assert job.created == 2
    rows = ConsentRecord.objects.filter(workspace=workspace).values_list("actor_id", "contact_list_id", "list_name")
    assert list(rows) == [(alice.pk, news.pk, "News")] * 2


def test_an_importer_deleted_while_the_job_runs_is_named_by_no_ledger_row(workspace, alice):
    news = create_list(workspace, "News")
    job = queue(workspace, news, "email\n" + "\n".join(f"p{i}@example.com" for i in range(30)) + "\n", actor=alice)
    claimed = imports.claim("runner")
    assert claimed is not None

    def delete_the_importer(j: ImportJob) -> None:
        if j.rows_done == 10:
            User.objects.filter(pk=alice.pk).delete()

    imports.run_job(claimed, "runner", progress=delete_the_importer, batch_rows=10)
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 30)
    actors = ConsentRecord.objects.filter(workspace=workspace).values_list("actor_id", flat=True)
    assert list(actors) == [None] * 30

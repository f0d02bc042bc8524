"""The import against other writers, with real transactions: a contact made by someone else
between a batch's read and its write, a list deleted while the job runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from openesp.audience import imports
from openesp.audience.actions import create_contact, create_list
from openesp.audience.imports import write
from openesp.audience.models import Contact, ImportJob, Subscription
from tests.audience.import_helpers import queue

pytestmark = pytest.mark.django_db(transaction=True)


def _in_another_connection(work: Any) -> None:
    """Run ``work`` on a connection of its own (another thread's), committed when it returns."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_contact_made_by_someone_else_mid_batch_is_read_again(workspace, monkeypatch):
    # SQLite has one writer at a time: the other request would wait for the batch to commit.
    news = create_list(workspace, "News")
    job = queue(workspace, news, "email\nann@example.com\nbo@example.com\n")
    select_in = write.select_in
    raced: list[bool] = []

    def lookup_then_race(sql: str, *args: Any, **kw: Any) -> Any:
        found = select_in(sql, *args, **kw)
        if not raced and "email_key" in sql:
            raced.append(True)
            _in_another_connection(lambda: create_contact(workspace, "bo@example.com", name="Bo"))
        return found

    monkeypatch.setattr(write, "select_in", lookup_then_race)
    claimed = imports.claim("runner")
    assert claimed is not None
    imports.run_job(claimed, "runner")
    job.refresh_from_db()
    assert (job.status, job.error, job.created, job.updated, job.skipped) == ("done", "", 1, 1, 0)
    assert Contact.objects.get(email="bo@example.com").name == "Bo"
    assert Subscription.objects.filter(contact_list=news).count() == 2


def test_a_list_deleted_while_the_job_runs_fails_it_clearly(workspace):
    news = create_list(workspace, "News")
    job = queue(workspace, news, "email\n" + "\n".join(f"p{i}@example.com" for i in range(30)) + "\n")
    claimed = imports.claim("runner")
    assert claimed is not None

    def delete_the_list(j: ImportJob) -> None:
        news.delete()

    imports.run_job(claimed, "runner", progress=delete_the_list, batch_rows=10)
    job.refresh_from_db()
    assert (job.status, job.error, job.rows_done, job.file_path) == ("failed", "the list was deleted", 10, "")
    assert Contact.objects.count() == 10

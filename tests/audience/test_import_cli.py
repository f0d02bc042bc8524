"""``openesp import FILE --workspace ID --list NAME_OR_ID``: runs in-process, prints the counts."""

from __future__ import annotations

import importlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from openesp.audience import imports
from openesp.audience.actions import create_list
from openesp.audience.models import Contact, ImportJob, Subscription, Suppression

pytestmark = pytest.mark.django_db


def _run(*args: str, **options: object) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_file_and_prints_the_counts_and_the_report(workspace, tmp_path):
    news = create_list(workspace, "News")
    path = tmp_path / "people.csv"
    path.write_text("email,name\nann@example.com,Ann\nbad,B\nbo@example.com,Bo\n", encoding="utf-8")
    out, _err = _run(str(path), "--workspace", str(workspace.pk), "--list", "News", "--no-progress")
    job = ImportJob.objects.get()
    assert f"import {job.pk} done: created 2, updated 0, skipped 1" in out
    assert f"/workspaces/{workspace.pk}/imports/{job.pk}/" in out and f"/api/v1/imports/{job.pk}/report" in out
    assert Subscription.objects.filter(contact_list=news).count() == 2
    assert job.file_path == "" and job.file_name == "people.csv"


def test_it_takes_the_list_by_id_and_a_mode_and_draws_a_progress_bar(workspace, tmp_path):
    news = create_list(workspace, "News")
    path = tmp_path / "gone.csv"
    path.write_text("email\nann@example.com\n", encoding="utf-8")
    out, err = _run(str(path), "--workspace", str(workspace.pk), "--list", str(news.pk), "--mode", "unsubscribe")
    assert "created 1, updated 0, skipped 0" in out
    assert "100.0%" in err and "[####" in err
    assert Suppression.objects.get().source == "import"
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "--workspace", "{ws}", "--list", "News"], "FILE: missing.csv does not exist"),
        (["{file}", "--workspace", "987654", "--list", "News"], "--workspace: no workspace has the id 987654"),
        (["{file}", "--workspace", "{ws}", "--list", "Nope"], "has no list named or numbered 'Nope'"),
        (["{file}", "--workspace", "{ws}", "--list", "News", "--mapping", "{x"], "--mapping: is not valid JSON"),
        (["{file}", "--workspace", "{ws}", "--list", "News", "--mapping", '{"a": "x"}'], "mapping.a: is not a column"),
        (["{file}", "--list", "News"], "--workspace is required"),
    ],
)
def test_it_says_clearly_what_is_wrong(workspace, tmp_path, args, message):
    create_list(workspace, "News")
    path = tmp_path / "people.csv"
    path.write_text("email\nann@example.com\n", encoding="utf-8")
    filled = [a.replace("{ws}", str(workspace.pk)).replace("{file}", str(path)) for a in args]
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace("{", r"\{")):
        _run(*filled)
    assert not ImportJob.objects.exists() and not Contact.objects.exists()


def test_ctrl_c_cancels_the_job_and_says_what_was_committed(workspace, tmp_path, monkeypatch):
    command = importlib.import_module("openesp.audience.management.commands.import")
    news = create_list(workspace, "News")
    path = tmp_path / "people.csv"
    path.write_text("email\n" + "\n".join(f"p{i}@example.com" for i in range(5)) + "\n", encoding="utf-8")

    def ctrl_c(self: object, job: ImportJob) -> None:
        raise KeyboardInterrupt  # after the first batch's commit

    monkeypatch.setattr(command.Bar, "__call__", ctrl_c)
    with pytest.raises(CommandError, match="cancelled: 2 rows committed") as raised:
        _run(str(path), "--workspace", str(workspace.pk), "--list", "News", "--batch-size", "2")
    assert raised.value.returncode != 0
    job = ImportJob.objects.get()
    assert (job.status, job.rows_done, job.created, job.file_path) == ("cancelled", 2, 2, "")
    assert Subscription.objects.filter(contact_list=news).count() == 2


def test_the_lease_option_is_the_jobs_lease_from_the_start(workspace, tmp_path, monkeypatch):
    create_list(workspace, "News")
    path = tmp_path / "people.csv"
    path.write_text("email\nann@example.com\n", encoding="utf-8")
    leases = []
    run_job = imports.run_job

    def watch(job: ImportJob, owner: str, **kw: Any) -> ImportJob:
        stored = ImportJob.objects.get(pk=job.pk)
        assert stored.lease_until is not None and stored.started_at is not None
        leases.append(stored.lease_until - stored.started_at)
        return run_job(job, owner, **kw)

    monkeypatch.setattr(imports, "run_job", watch)
    _run(str(path), "--workspace", str(workspace.pk), "--list", "News", "--lease", "600", "--no-progress")
    assert leases == [timedelta(seconds=600)]

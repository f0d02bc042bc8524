"""``openesp import FILE --workspace ID --list NAME_OR_ID``: import a CSV file in this process,
with a progress bar on stderr, and print the counts. ``openesp import --runner`` works off the
imports queued through the API and the web UI (for deployments that do not run ``openesp serve``).

The CLI runs the same job as an upload does: the file is copied into the data directory and
the job is claimed by this process from the start, so if it is killed a runner takes it over
where it stopped. Ctrl-C cancels the job (the batches committed stay).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from openesp.accounts.models import Workspace
from openesp.audience import imports
from openesp.audience.models import ContactList, ImportJob, ImportMode
from openesp.lib.errors import InvalidInput
from openesp.lib.workers import worker_name


def _chunks(path: Path) -> Any:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


class Bar:
    """A one-line progress bar on stderr (only redrawn when the figure changes)."""

    def __init__(self, stream: OutputWrapper, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.last = ""

    def __call__(self, job: ImportJob) -> None:
        share = min(job.byte_offset / job.file_size, 1.0) if job.file_size else 1.0
        filled = int(share * self.width)
        line = (
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:6.1%}  {job.rows_done:,} rows  "
            f"created {job.created:,}  updated {job.updated:,}  skipped {job.skipped:,}"
        )
        if line != self.last:
            self.stream.write(line, ending="")
            self.stream.flush()
            self.last = line

    def close(self) -> None:
        if self.last:
            self.stream.write("")
            self.stream.flush()


class Command(BaseCommand):
    help = "Import contacts from a CSV file into a list, or (--runner) work off queued imports."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", nargs="?", metavar="FILE", help="the CSV file")
        parser.add_argument("--workspace", type=int, help="the workspace id")
        parser.add_argument("--list", dest="list", help="the list's name or id")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.SUBSCRIBE.value)
        parser.add_argument(
            "--mapping", help='JSON: CSV column → field, e.g. {"Mail": "email", "Town": "attributes.town"}'
        )
        parser.add_argument("--consent-text-version", default="", help="recorded with each subscription")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--runner", action="store_true", help="work off queued imports until stopped")
        parser.add_argument(
            "--lease", type=int, default=60, help="seconds a claim lasts before another runner may go on"
        )
        parser.add_argument(
            "--batch-size", type=int, default=imports.BATCH_ROWS, help="rows committed together with the progress"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["lease"] < 2 or options["batch_size"] < 1:
            raise CommandError("--lease must be at least 2 seconds and --batch-size at least 1")
        lease = timedelta(seconds=options["lease"])
        if options["runner"]:
            if options["file"]:
                raise CommandError("--runner takes no FILE")
            self._runner(lease, options["batch_size"])
            return
        if not options["file"]:
            raise CommandError("FILE is required (or --runner)")
        self._import(options, lease)

    def _runner(self, lease: timedelta, batch_rows: int) -> None:
        stop = threading.Event()

        def shut_down(signum: int, _frame: FrameType | None) -> None:
            # The batch in hand commits or rolls back whole; either way the next runner goes on.
            stop.set()

        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)
        imports.run_forever(stop, lease=lease, batch_rows=batch_rows)

    def _import(self, options: dict[str, Any], lease: timedelta) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"FILE: {path} does not exist or is not a file")
        if options["workspace"] is None:
            raise CommandError("--workspace is required")
        if options["list"] is None:
            raise CommandError("--list is required")
        workspace = Workspace.objects.filter(pk=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"--workspace: no workspace has the id {options['workspace']}")
        contact_list = self._list(workspace, options["list"])
        mapping = None
        if options["mapping"]:
            try:
                mapping = json.loads(options["mapping"])
            except ValueError:
                raise CommandError("--mapping: is not valid JSON") from None
        if path.stat().st_size > settings.OPENESP_IMPORT_MAX_BYTES:
            raise CommandError(f"FILE: {imports.too_large_reason()}")
        owner = worker_name()
        try:
            stored = imports.store_upload(_chunks(path))
            job = imports.create_job(
                workspace,
                contact_list,
                stored,
                file_name=path.name,
                mode=options["mode"],
                mapping=mapping,
                consent_text_version=options["consent_text_version"],
                lease_owner=owner,
                lease=lease,
            )
        except InvalidInput as exc:
            problems = "; ".join(f"{'FILE' if p.field == 'file' else p.field}: {p.reason}" for p in exc.problems)
            raise CommandError(problems) from None
        bar = Bar(self.stderr)
        try:
            imports.run_job(
                job,
                owner,
                lease=lease,
                progress=None if options["no_progress"] else bar,
                batch_rows=options["batch_size"],
            )
        except KeyboardInterrupt:
            # Cancelled rather than left running: otherwise a runner would take the job over
            # (and go on with it) once the lease ran out. The batch in hand was rolled back.
            job = imports.cancel(ImportJob.objects.get(pk=job.pk), owner=owner)
            raise CommandError(
                f"import {job.pk} cancelled: {job.rows_done} rows committed "
                f"(created {job.created}, updated {job.updated}, skipped {job.skipped})",
                returncode=130,
            ) from None
        finally:
            bar.close()
        job.refresh_from_db()
        for warning in job.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"import {job.pk} {job.status}: created {job.created}, updated {job.updated}, skipped {job.skipped}"
        )
        if job.error:
            raise CommandError(f"import {job.pk} failed: {job.error}")
        if job.skipped:
            self.stdout.write(
                f"report of the skipped rows: {settings.OPENESP_BASE_URL}/workspaces/{workspace.pk}/imports/{job.pk}/"
                f" (API: GET /api/v1/imports/{job.pk}/report)"
            )

    def _list(self, workspace: Workspace, name_or_id: str) -> ContactList:
        lists = ContactList.objects.filter(workspace=workspace)
        found = lists.filter(name=name_or_id).first()
        if found is None and name_or_id.isdigit():
            found = lists.filter(pk=int(name_or_id)).first()
        if found is None:
            raise CommandError(f"--list: workspace {workspace.pk} has no list named or numbered {name_or_id!r}")
        return found

"""CSV imports into a list (scope ``contacts``).

``POST /lists/{id}/imports`` stores the upload and queues a job; the 202 comes only after that
commit, and a runner works the job off in the background (``audience.imports``). The job's
page (``GET /imports/{id}``) shows its progress and counts, and ``/report`` the rows it skipped.
Ids in the path answer 404 alike for missing and foreign jobs and lists; viewers read, they
cannot import or cancel.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, InvalidOut
from openesp.api.params import MAX_PAGE, Id, PageLimit
from openesp.api.scope import may_change, workspace_of
from openesp.audience import imports, queries
from openesp.audience.access import access_import, access_list
from openesp.audience.models import ImportJob, ImportMode, ImportStatus
from openesp.lib.downloads import csv_download
from openesp.lib.errors import InvalidInput
from openesp.lib.uploads import upload_too_large

router = Router(auth=ApiKeyAuth("contacts"), tags=["imports"])


class ImportOut(Schema):
    id: int
    workspace_id: int
    list_id: int | None = Field(description="null once the list has been deleted")
    list_name: str
    mode: str = Field(description=", ".join(ImportMode.values))
    status: str = Field(description=", ".join(ImportStatus.values))
    file_name: str
    file_size: int
    encoding: str = Field(description="utf-8 or latin-1 (see warnings)")
    delimiter: str
    mapping: dict[str, str] = Field(description="CSV column → email, name, language, time_zone, attributes.<name>, ''")
    consent_text_version: str
    rows_total: int | None = Field(description="the rows in the file: an estimate (lines) until the job is done")
    rows_done: int
    progress: float = Field(description="0 to 1, by the part of the file read")
    created: int = Field(description="see docs/import.md: what each mode counts")
    updated: int
    skipped: int = Field(description="rows not imported; each is in the report unless over the row limit")
    warnings: list[str]
    error: str = Field(description="why a failed job failed")
    report_url: str = Field(description="the skipped rows as CSV: row, reason, raw")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _progress(job: ImportJob) -> float:
    if job.status == ImportStatus.DONE:
        return 1.0
    if not job.file_size:
        return 0.0
    return round(min(job.byte_offset / job.file_size, 1.0), 4)


def import_out(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "workspace_id": job.workspace_id,
        "list_id": job.contact_list_id,
        "list_name": job.list_name,
        "mode": job.mode,
        "status": job.status,
        "file_name": job.file_name,
        "file_size": job.file_size,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "mapping": job.mapping,
        "consent_text_version": job.consent_text_version,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "progress": _progress(job),
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
        "warnings": job.warnings,
        "error": job.error,
        "report_url": request.build_absolute_uri(f"/api/v1/imports/{job.pk}/report"),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _too_large() -> dict[str, Any]:
    reason = imports.too_large_reason()
    return {"error": "too_large", "detail": f"file: {reason}", "errors": [{"field": "file", "reason": reason}]}


@router.post(
    "/lists/{list_id}/imports",
    response={202: ImportOut, 413: InvalidOut, **ERRORS},
    summary="Import a CSV file into a list (in the background)",
    description="Multipart form: `file` (the CSV: UTF-8 with or without BOM, else read as Latin-1; comma, "
    "semicolon or tab), `mode` (subscribe, update, unsubscribe; default subscribe), `mapping` (optional JSON "
    'object of CSV column → email, name, language, time_zone, attributes.<name> or "" to ignore; default: '
    "from the header names), `consent_text_version` (recorded in the consent ledger). Answers 202 once the "
    "job is queued; follow `GET /imports/{id}`. A file over OPENESP_IMPORT_MAX_BYTES is a 413 naming `file`.",
)
def create_import(
    request: HttpRequest,
    list_id: Id,
    file: File[UploadedFile | None] = None,
    mode: Form[str] = ImportMode.SUBSCRIBE.value,
    mapping: Form[str] = "",
    consent_text_version: Form[str] = "",
) -> Status[dict[str, Any]]:
    c = caller(request)
    contact_list = access_list(c.actor, list_id)
    may_change(c, contact_list.workspace)
    if upload_too_large(request):
        return Status(413, _too_large())
    if file is None:
        raise InvalidInput.one("file", "is required: the CSV file, as a multipart form field")
    if mode not in ImportMode.values:
        raise InvalidInput.one("mode", f"must be one of {', '.join(ImportMode.values)}")
    parsed: object = None
    if mapping.strip():
        try:
            parsed = json.loads(mapping)
        except ValueError:
            raise InvalidInput.one("mapping", "is not valid JSON") from None
    if (file.size or 0) > settings.OPENESP_IMPORT_MAX_BYTES:
        return Status(413, _too_large())
    stored = imports.store_upload(file.chunks())
    job = imports.create_job(
        contact_list.workspace,
        contact_list,
        stored,
        file_name=file.name or "import.csv",
        mode=mode,
        mapping=parsed if parsed is not None else None,  # type: ignore[arg-type]  # checked by create_job
        consent_text_version=consent_text_version,
        actor=c.user,
    )
    return Status(202, import_out(request, job))


@router.get(
    "/imports",
    response={200: list[ImportOut], **ERRORS},
    summary="A workspace's imports, newest first",
    description=f"At most `limit` (default 20, at most {MAX_PAGE}).",
)
def list_imports(request: HttpRequest, workspace: Id | None = None, limit: PageLimit = 20) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    jobs = queries.imports_of(ws)[:limit]
    return [import_out(request, job) for job in jobs]


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS}, summary="An import: status, progress, counts")
def get_import(request: HttpRequest, import_id: Id) -> dict[str, Any]:
    return import_out(request, access_import(caller(request).actor, import_id))


@router.get(
    "/imports/{import_id}/report",
    response={200: None, **ERRORS},
    summary="The rows an import skipped, as CSV",
    description="Columns: row (1 is the first row after the header), reason, raw (the row as read, at most "
    "2,000 characters). Cells a spreadsheet would run as a formula get a leading `'`.",
)
def import_report(request: HttpRequest, import_id: Id) -> StreamingHttpResponse:
    job = access_import(caller(request).actor, import_id)
    return csv_download(imports.report_csv(job), f"import-{job.pk}-report.csv")


@router.post(
    "/imports/{import_id}/cancel",
    response={200: ImportOut, **ERRORS},
    summary="Cancel a queued or running import",
    description="A running import stops when the batch in hand tries to commit: that batch is rolled back, "
    "the batches committed before stay. Cancelling an import that has ended changes nothing.",
)
def cancel_import(request: HttpRequest, import_id: Id) -> dict[str, Any]:
    c = caller(request)
    job = access_import(c.actor, import_id)
    may_change(c, job.workspace)
    return import_out(request, imports.cancel(job))

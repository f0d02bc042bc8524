"""CSV imports of a workspace: upload, column mapping, progress, report.

Three steps: the upload form (list, mode, file) stores the file as a pending upload and keeps
its name in the session; the mapping page shows what was detected (encoding, delimiter, the
columns with sample values) with a field to choose per column; starting queues the job, and its
page follows the runner's progress (``imports.js`` polls a small JSON view). Every page looks
the workspace and the job up through the access layer (``audience_common``), so outsiders,
missing ids and foreign ids all get the same 404. Viewers see imports, they cannot
start or cancel one.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import attribute_keys, imports, queries
from openesp.audience.access import access_import, access_list
from openesp.audience.imports import ImportRefused, auto_mapping, check_mapping
from openesp.audience.models import ContactList, ImportJob, ImportMode, ImportStatus
from openesp.front.helpers import member_view, the_actor, the_user
from openesp.front.views.audience_common import audience_workspace, page_context, refuse_viewers
from openesp.lib.downloads import csv_download
from openesp.lib.errors import InvalidInput
from openesp.lib.uploads import upload_too_large

SESSION_KEY = "import_upload"
PAGE_SIZE = 50
_NOT_KEY = re.compile(r"[^A-Za-z0-9_-]+")


class UploadForm(forms.Form):
    contact_list = forms.ModelChoiceField(label=_("List"), queryset=ContactList.objects.none(), empty_label=None)
    mode = forms.ChoiceField(
        label=_("What to do"),
        choices=ImportMode.choices,
        initial=ImportMode.SUBSCRIBE,
        help_text=_(
            "Add and subscribe: new contacts are made and subscribed (you confirm they agreed); a subscription "
            "waiting for its double opt-in confirmation stays waiting. Update: only contacts that exist change. "
            "Unsubscribe and block: unsubscribed and suppressed."
        ),
    )
    consent_text_version = forms.CharField(
        label=_("Consent text version"),
        max_length=64,
        required=False,
        help_text=_("The version of the text these people agreed to; kept in the consent ledger."),
    )
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8 or Latin-1; comma, semicolon or tab; a header row."))

    def __init__(self, workspace: Workspace, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_list"].queryset = queries.lists_of(workspace)  # type: ignore[attr-defined]


def _context(workspace: Workspace, can_edit: bool, **extra: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, "imports", **extra)


def _job_in(request: HttpRequest, workspace: Workspace, import_id: int) -> ImportJob:
    return access_import(the_actor(request), import_id, workspace=workspace)


def _choices(column: str, spellings: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """What a column may become: the fields, or an attribute named after the column. The label
    names the attribute as the workspace spells it (``spellings``, by folded name): a column
    "country" fills the workspace's "Country" (audience.attribute_keys)."""
    choices = [
        ("", _t("Ignore")),
        ("email", _t("E-mail address")),
        ("name", _t("Name")),
        ("language", _t("Language")),
        ("time_zone", _t("Time zone")),
    ]
    key = _NOT_KEY.sub("_", column.strip()).strip("_")[:64]
    if key and key[0].isdigit():
        key = ("_" + key)[:64]
    if key:
        name = (spellings or {}).get(key.casefold(), key)
        choices.append((f"attributes.{key}", _t("Attribute “%(name)s”") % {"name": name}))
    return choices


def _problem_text(exc: InvalidInput) -> str:
    return "; ".join(p.reason for p in exc.problems)


@member_view
def import_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    form = UploadForm(workspace)
    if request.method == "POST":
        refuse_viewers(request, workspace)
        form = UploadForm(workspace, request.POST, request.FILES)
        if not form.is_valid() and upload_too_large(request):
            # Stopped as it arrived (openesp/lib/uploads.py): say why, not "required".
            form.errors["file"] = form.error_class([imports.too_large_reason()])
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > settings.OPENESP_IMPORT_MAX_BYTES:
                    raise InvalidInput.one("file", imports.too_large_reason())
                stored = imports.store_upload(upload.chunks())
                try:
                    imports.inspect(stored)
                except InvalidInput:
                    imports.discard(stored.name)
                    raise
            except InvalidInput as exc:
                form.add_error("file", _problem_text(exc))
            else:
                previous = request.session.get(SESSION_KEY)
                if isinstance(previous, dict):
                    imports.discard(str(previous.get("name", "")))
                request.session[SESSION_KEY] = {
                    "ws": workspace.pk,
                    "name": stored.name,
                    "sha256": stored.sha256,
                    "file_name": upload.name[:255],
                    "list": form.cleaned_data["contact_list"].pk,
                    "mode": form.cleaned_data["mode"],
                    "consent_text_version": form.cleaned_data["consent_text_version"],
                }
                return redirect("ws-import-map", workspace.pk)
    jobs = queries.imports_of(workspace)[:PAGE_SIZE]
    has_lists = queries.lists_of(workspace).exists()
    context = _context(workspace, can_edit, form=form, jobs=jobs, has_lists=has_lists)
    return render(request, "front/imports/list.html", context)


@member_view
def import_map(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    pending = request.session.get(SESSION_KEY)
    stored = None
    contact_list = None
    if isinstance(pending, dict) and pending.get("ws") == workspace.pk:
        stored = imports.stored_file(str(pending.get("name", "")))
        list_id = pending.get("list")
        if isinstance(list_id, int):
            try:
                contact_list = access_list(the_actor(request), list_id, workspace=workspace)
            except Http404:  # deleted since the upload
                contact_list = None
    if stored is None or contact_list is None or not isinstance(pending, dict):
        messages.info(request, _t("Choose a file to import first."))
        return redirect("ws-imports", workspace.pk)
    try:
        sniffed = imports.inspect(stored)
    except ImportRefused as exc:
        imports.discard(stored.name)
        messages.error(request, _problem_text(exc))
        return redirect("ws-imports", workspace.pk)
    mapping, warnings = auto_mapping(sniffed.header)
    error = ""
    if request.method == "POST":
        if "cancel" in request.POST:
            imports.discard(stored.name)
            request.session.pop(SESSION_KEY, None)
            return redirect("ws-imports", workspace.pk)
        chosen = {column: request.POST.get(f"column-{i}", "") for i, column in enumerate(sniffed.header)}
        allowed = {column: {value for value, _label in _choices(column)} for column in sniffed.header}
        try:
            if any(value not in allowed[column] for column, value in chosen.items()):
                raise InvalidInput.one("mapping", _t("Choose one of the offered fields for each column."))
            mapping = check_mapping(sniffed.header, chosen)
            stored = imports.StoredFile(stored.name, stored.size, str(pending.get("sha256", "")))
            job = imports.create_job(
                workspace,
                contact_list,
                stored,
                file_name=str(pending.get("file_name", "")),
                mode=str(pending.get("mode", ImportMode.SUBSCRIBE)),
                mapping=mapping,
                consent_text_version=str(pending.get("consent_text_version", "")),
                actor=the_user(request),
                sniffed=sniffed,
            )
        except InvalidInput as exc:
            mapping = chosen
            error = _mapping_error(exc)
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, _t("The import has started."))
            return redirect("ws-import", workspace.pk, job.pk)
    spellings = attribute_keys.workspace_spellings(workspace.pk)
    columns = [
        {
            "index": i,
            "name": column,
            "samples": [row[i] for row in sniffed.samples if i < len(row)],
            "choices": _choices(column, spellings),
            "chosen": mapping.get(column, ""),
        }
        for i, column in enumerate(sniffed.header)
    ]
    context = _context(
        workspace,
        can_edit,
        sniffed=sniffed,
        columns=columns,
        warnings=sniffed.warnings,
        column_warnings=warnings,
        error=error,
        contact_list=contact_list,
        file_name=pending.get("file_name", ""),
        mode_label=dict(ImportMode.choices).get(str(pending.get("mode")), ""),
        delimiter_label={",": _t("comma"), ";": _t("semicolon"), "\t": _t("tab")}[sniffed.delimiter],
    )
    return render(request, "front/imports/map.html", context)


def _mapping_error(exc: InvalidInput) -> str:
    reasons = {p.reason for p in exc.problems}
    if "one column must be mapped to email" in reasons:
        return _t("Choose the column that holds the e-mail addresses.")
    if any("is mapped from another column already" in r for r in reasons):
        return _t("Each field can come from one column only.")
    return _t("Choose one of the offered fields for each column.")


# The engine stores its warnings and reasons in English (the API and the report show them so);
# the pages show the known ones in the reader's language.
_WARNINGS = [
    (re.compile(r"The file is not valid UTF-8 \(the first bad byte is at offset (\d+)\); it was read as Latin-1\.$"),
     lambda m: _t("The file is not valid UTF-8 (the first bad byte is at offset %(offset)s); it was read as Latin-1.")
     % {"offset": m.group(1)}),
    (re.compile(r"The column '(.*)' is ignored: another column holds the same field or attribute\.$"),
     lambda m: _t("The column “%(name)s” is ignored: another column holds the same field or attribute.")
     % {"name": m.group(1)}),
    (re.compile(r"The column '(.*)' is ignored: .*$"),
     lambda m: _t("The column “%(name)s” is ignored: it is no valid attribute name.") % {"name": m.group(1)}),
    (re.compile(r"The column '(.*)' is not imported\.$"),
     lambda m: _t("The column “%(name)s” is not imported.") % {"name": m.group(1)}),
    (re.compile(r"The file has more than ([\d,]+) rows .*$"),
     lambda m: _t("The file has more than %(limit)s rows (OPENESP_IMPORT_MAX_ROWS); the rows after that were skipped.")
     % {"limit": m.group(1)}),
]  # fmt: skip
_REASONS = [
    (re.compile(r"duplicate of row (\d+)$"), lambda m: _t("duplicate of row %(row)s") % {"row": m.group(1)}),
    (re.compile(r"suppressed$"), lambda m: _t("suppressed")),
    (re.compile(r"not a contact$"), lambda m: _t("not a contact")),
    (re.compile(r"unsubscribed from this list earlier$"), lambda m: _t("unsubscribed from this list earlier")),
    (re.compile(r"has (\d+) fields; the header has (\d+)$"),
     lambda m: _t("has %(n)s fields; the header has %(m)s") % {"n": m.group(1), "m": m.group(2)}),
    (re.compile(r"unreadable CSV: a quoted field is not closed.*$"),
     lambda m: _t("unreadable CSV: a quoted field is not closed")),
    (re.compile(r"email: is required$"), lambda m: _t("email: is required")),
    (re.compile(r"email: is longer than 320 characters$"), lambda m: _t("email: is longer than 320 characters")),
    (re.compile(r"name: must be printable text of at most (\d+) characters$"),
     lambda m: _t("name: must be printable text of at most %(n)s characters") % {"n": m.group(1)}),
    (re.compile(r"language: must be a language tag such as en, sv or pt-BR$"),
     lambda m: _t("language: must be a language tag such as en, sv or pt-BR")),
    (re.compile(r"time_zone: must be an IANA time zone such as Europe/Stockholm$"),
     lambda m: _t("time_zone: must be an IANA time zone such as Europe/Stockholm")),
    (re.compile(r"(attributes\.[A-Za-z0-9_-]+): is longer than (\d+) characters$"),
     lambda m: _t("%(field)s: is longer than %(n)s characters") % {"field": m.group(1), "n": m.group(2)}),
    (re.compile(r"email: (.+)$"), lambda m: _t("email: not a valid address (%(why)s)") % {"why": m.group(1)}),
]  # fmt: skip


def _translated(text: str, patterns: list[tuple[re.Pattern[str], Any]]) -> str:
    for pattern, translate in patterns:
        if match := pattern.match(text):
            return str(translate(match))
    return text


def _status(job: ImportJob) -> dict[str, Any]:
    running = job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    if job.status == ImportStatus.DONE:
        share = 1.0
    else:
        share = min(job.byte_offset / job.file_size, 1.0) if job.file_size else 0.0
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "running": running,
        "percent": round(share * 100, 1),
        "rows_done": job.rows_done,
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
    }


@require_GET
@member_view
def import_detail(request: HttpRequest, ws_id: int, import_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    job = _job_in(request, workspace, import_id)
    problems = [
        (p.row_number, _translated(p.reason, _REASONS), p.raw) for p in job.problems.order_by("row_number", "id")[:20]
    ]
    context = _context(
        workspace,
        can_edit,
        job=job,
        state=_status(job),
        problems=problems,
        problem_count=job.problems.count(),
        warnings=[_translated(w, _WARNINGS) for w in job.warnings],
    )
    return render(request, "front/imports/detail.html", context)


@require_GET
@member_view
def import_status(request: HttpRequest, ws_id: int, import_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    response = JsonResponse(_status(_job_in(request, workspace, import_id)))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@member_view
def import_report(request: HttpRequest, ws_id: int, import_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    job = _job_in(request, workspace, import_id)
    return csv_download(imports.report_csv(job), f"import-{job.pk}-report.csv")  # type: ignore[return-value]


@require_POST
@member_view
def import_cancel(request: HttpRequest, ws_id: int, import_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    job = _job_in(request, workspace, import_id)
    refuse_viewers(request, workspace)
    imports.cancel(job)
    messages.info(request, _t("The import was cancelled; the rows imported until then stay."))
    return redirect("ws-import", workspace.pk, job.pk)


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/imports/", import_list, name="ws-imports"),
    path("workspaces/<int:ws_id>/imports/mapping/", import_map, name="ws-import-map"),
    path("workspaces/<int:ws_id>/imports/<int:import_id>/", import_detail, name="ws-import"),
    path("workspaces/<int:ws_id>/imports/<int:import_id>/status/", import_status, name="ws-import-status"),
    path("workspaces/<int:ws_id>/imports/<int:import_id>/report/", import_report, name="ws-import-report"),
    path("workspaces/<int:ws_id>/imports/<int:import_id>/cancel/", import_cancel, name="ws-import-cancel"),
]

"""Files the browser saves rather than shows: the CSV exports and reports of the API and the UI.

Every cell of such a file goes through ``safe_cell``: a CSV opened in a spreadsheet must not run
a contact's name as a formula (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse

# Cells a spreadsheet would read as a formula (or that hide one behind a control character).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\0", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs as a formula: risky first characters get a leading ``'``."""
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def line_writer() -> Any:
    """A ``csv.writer`` whose ``writerow`` returns the line instead of writing it: for streaming
    a file a row at a time."""
    return csv.writer(_Echo())


def csv_download(lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """``lines`` streamed as a CSV attachment named ``filename``.

    Never stored by caches: every such file holds personal data (addresses, names, raw rows).
    """
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response

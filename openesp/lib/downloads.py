"""Files the browser saves rather than shows: the CSV exports and reports of the API and the UI."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse


def csv_download(lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """``lines`` streamed as a CSV attachment named ``filename``.

    Never stored by caches: every such file holds personal data (addresses, names, raw rows).
    """
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response

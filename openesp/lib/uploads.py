"""Uploads stop at the size the operator allows, before they fill the disk.

Django writes a multipart file larger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file
as it arrives, whatever its size: a size check in the view comes after the whole body is on
disk. The only multipart uploads openesp takes are CSV imports, so this handler stops any
upload file at ``OPENESP_IMPORT_MAX_BYTES``, drops it, and marks the request
(``upload_too_large``) for the view to answer with the limit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


def upload_too_large(request: object) -> bool:
    """Whether an upload of this request was stopped at the size limit."""
    return bool(getattr(request, "upload_too_large", False))


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.OPENESP_IMPORT_MAX_BYTES:
            self.file.close()  # a temporary file: closing removes it
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            # Reads (and discards) the rest of the body, so the client gets the answer.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)

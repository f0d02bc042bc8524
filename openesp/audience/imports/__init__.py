"""CSV import of contacts, split along its seams:

- ``read``: the file's encoding, delimiter and header, then its records one by one;
- ``mapping``: which column becomes which contact field;
- ``check``: what can be known about a row without the database (the address's rules too);
- ``write`` (with ``sql``): applying a batch of checked rows to a workspace in bulk;
- ``jobs``: the uploaded file, the queue of jobs, their end and the report of bad rows;
- ``runner``: working a claimed job off batch by batch, crash-safe (``openesp serve`` runs one).

Callers (the API, the web UI, the ``import`` command) use the names below.
"""

from __future__ import annotations

from openesp.audience.imports.check import validate_addresses
from openesp.audience.imports.jobs import (
    BATCH_ROWS,
    LEASE,
    StoredFile,
    cancel,
    claim,
    create_job,
    discard,
    imports_dir,
    inspect,
    report_csv,
    store_upload,
    stored_file,
    too_large_reason,
)
from openesp.audience.imports.mapping import auto_mapping, check_mapping
from openesp.audience.imports.read import MAX_LINE_BYTES, ImportRefused, Sniffed, sniff
from openesp.audience.imports.runner import run_forever, run_job, run_pending
from openesp.audience.imports.write import ERASED

__all__ = [
    "BATCH_ROWS",
    "ERASED",
    "LEASE",
    "MAX_LINE_BYTES",
    "ImportRefused",
    "Sniffed",
    "StoredFile",
    "auto_mapping",
    "cancel",
    "check_mapping",
    "claim",
    "create_job",
    "discard",
    "imports_dir",
    "inspect",
    "report_csv",
    "run_forever",
    "run_job",
    "run_pending",
    "sniff",
    "store_upload",
    "stored_file",
    "too_large_reason",
    "validate_addresses",
]

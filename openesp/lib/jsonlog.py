"""One JSON object per log line (``OPENESP_LOG_FORMAT=json``), for log collectors.

The fields: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``exception`` when
there is one, and the record's own extras that are plain values. Secrets stay out as they do
in plain logs: openesp never passes a secret to a logger (docs/operations.md).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# The attributes every LogRecord has: not extras.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_") and isinstance(value, str | int | float | bool):
                line[name] = value
        return json.dumps(line, ensure_ascii=False)

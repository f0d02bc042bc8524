"""``OPENESP_LOG_FORMAT=json``: one JSON object per line, in a real openesp process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging, django
django.setup()
log = logging.getLogger("openesp.delivery")
log.warning("first line\\nsecond line", extra={"message_id": 42, "provider": "smtp"})
try:
    raise ValueError("boom")
except ValueError:
    log.exception("it failed")
"""


def _run(tmp_path: Path, log_format: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The data directory's own SQLite: logging is what is tested, not the run's database.
    left_out = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENESP_") and k not in left_out}
    env.update(OPENESP_DATA_DIR=str(tmp_path), OPENESP_LOG_FORMAT=log_format, DJANGO_SETTINGS_MODULE="openesp.settings")
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path
    )


def test_each_record_is_one_json_object_on_one_line(tmp_path):
    done = _run(tmp_path, "json", "-c", SCRIPT)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "openesp.delivery"
    assert first["message"] == "first line\nsecond line"
    assert (first["message_id"], first["provider"]) == (42, "smtp")
    assert first["time"].endswith("+00:00")
    assert second["message"] == "it failed" and "ValueError: boom" in second["exception"]


def test_plain_stays_the_default_and_a_wrong_value_is_refused(tmp_path):
    plain = _run(tmp_path, "plain", "-c", SCRIPT)
    assert plain.returncode == 0 and "WARNING openesp.delivery first line" in plain.stderr
    wrong = _run(tmp_path, "xml", "-m", "openesp", "check")
    assert wrong.returncode == 2
    assert "OPENESP_LOG_FORMAT" in wrong.stderr

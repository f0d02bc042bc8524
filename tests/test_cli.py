"""The `openesp` command: createuser, and `serve` starting from an empty data directory."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from openesp.accounts.models import User

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_it_creates_a_verified_user_with_an_argon2_hash(tmp_path):
    password_file = tmp_path / "pw"
    password_file.write_text("a sturdy passphrase\n")
    out = StringIO()
    call_command("createuser", "Op@Example.com", "--password-file", str(password_file), stdout=out)
    user = User.objects.get(email="op@example.com")
    assert user.email_verified and user.check_password("a sturdy passphrase")
    assert user.password.startswith("argon2$")
    assert "a sturdy passphrase" not in out.getvalue()


@pytest.mark.django_db
def test_it_names_the_option_at_fault(tmp_path):
    with pytest.raises(CommandError, match="--password-file: cannot read"):
        call_command("createuser", "op@example.com", "--password-file", str(tmp_path / "missing"))
    weak = tmp_path / "weak"
    weak.write_text("123")
    with pytest.raises(CommandError, match=r"--password-file: .*too short"):
        call_command("createuser", "op@example.com", "--password-file", str(weak))
    assert not User.objects.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DATABASE_URL", "DJANGO_"))}
    env["OPENESP_DATA_DIR"] = str(data_dir)
    return env


def test_it_serves_with_no_configuration(tmp_path):
    data_dir = tmp_path / "var"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openesp", "serve", "--port", str(port)],
        cwd=REPO,
        env=_clean_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
                    status = response.status
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert status == 200, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert {p.name for p in data_dir.iterdir()} >= {"openesp.sqlite3", "secret.key", "encryption.keys"}
        assert oct((data_dir / "secret.key").stat().st_mode & 0o777) == "0o600"
        with sqlite3.connect(data_dir / "openesp.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output


def test_it_refuses_a_bad_setting_loudly(tmp_path):
    env = _clean_env(tmp_path)
    env["OPENESP_SMTP_TIMEOUT"] = "soon"
    result = subprocess.run(
        [sys.executable, "-m", "openesp", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "OPENESP_SMTP_TIMEOUT: expected a whole number" in result.stderr


@pytest.mark.django_db
def test_it_makes_commits_durable():
    """A commit must be on disk before we acknowledge what it stored."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
        else:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"

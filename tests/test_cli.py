"""The `openesp` command: createuser, and `serve` starting from an empty data directory."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from openesp.accounts.models import User
from tests.processes import HANG, REPO, Served, clean_env, wait_until


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


@pytest.fixture
def serve(processes, tmp_path, migrated):
    """Start ``openesp serve`` on a copy of a migrated data directory; whatever the test does,
    the process is gone when it ends."""
    return lambda *args: Served(processes, tmp_path, *args, migrated=migrated)


def test_it_serves_with_no_configuration(processes, tmp_path):
    served = Served(processes, tmp_path)  # a fresh data directory: serve makes and migrates it
    served.wait_until_serving()
    data_dir = served.data_dir
    assert {p.name for p in data_dir.iterdir()} >= {"openesp.sqlite3", "secret.key", "encryption.keys"}
    assert oct((data_dir / "secret.key").stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(data_dir / "openesp.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    # Its delivery worker picks up what is queued (to fail it or defer it: no provider is set up).
    pk = served.queue_a_message()
    deadline = time.monotonic() + HANG
    while served.message(pk) == ("queued", 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served.message(pk)[1] >= 1
    output = served.stop()
    assert served.proc.returncode == 0, output
    assert f"http://127.0.0.1:{served.port}/" in output
    assert "components: web, worker, imports, smtp" in output
    # Start-up's objects frozen once, in the parent, before the web processes are forked
    # (openesp.lib.heap): the children inherit it.
    assert output.count("objects frozen out of the garbage collector's way") == 1


def test_it_serves_smtp_submission_with_a_self_signed_certificate(serve):
    served = serve("--no-worker")
    served.wait_until_serving()
    deadline = time.monotonic() + HANG
    while True:  # the SMTP thread may start a moment after the web server
        try:
            with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=HANG) as client:
                code, features = client.ehlo()
            break
        except OSError:
            assert time.monotonic() < deadline, "no SMTP server"
            time.sleep(0.3)
    assert code == 250 and b"STARTTLS" in features
    output = served.stop()
    assert (served.data_dir / "smtp-cert.pem").exists()
    assert oct((served.data_dir / "smtp-key.pem").stat().st_mode & 0o777) == "0o600"
    assert f"127.0.0.1:{served.smtp_port} (STARTTLS), 127.0.0.1:{served.smtps_port} (TLS)" in output
    assert "SHA-256 fingerprint" in output


def test_it_serves_only_web_and_api_with_no_worker(serve):
    served = serve("--no-worker")
    served.wait_until_serving()
    pk = served.queue_a_message()
    # The same steps that make the test above's worker claim the message; here it stays put.
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/login/", timeout=HANG) as response:
        assert response.status == 200
    output = served.stop()
    assert served.proc.returncode == 0, output
    assert "components: web, smtp, checkpoints\n" in output
    assert served.message(pk) == ("queued", 0)


def test_its_own_thread_copies_the_write_ahead_log_into_the_database(serve):
    """openesp.lib.walcheckpoint: serve's connections leave the log alone up to 40 MB; a thread
    of its own copies what was committed into the database file, off the committers' path."""
    served = serve("--no-worker")
    served.wait_until_serving()
    database = served.data_dir / "openesp.sqlite3"
    before = database.stat().st_size
    # 4 MB committed by a connection that never checkpoints: only the log holds it, until
    # someone copies it over. Far below the connections' own threshold (10,000 pages).
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("CREATE TABLE scratch (data BLOB)")
        db.executemany("INSERT INTO scratch VALUES (?)", [(os.urandom(4000),) for _ in range(1000)])
        db.commit()
        # (Not asserted that the file has not grown yet: the thread may already have copied it.)
        wait_until(lambda: database.stat().st_size >= before + 4_000_000, "the log copied into the database")
    output = served.stop()
    assert served.proc.returncode == 0, output


def _sign_up(port: int, email: str) -> None:
    """Sign up through the served pages, as a browser does (CSRF cookie and token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"http://127.0.0.1:{port}/signup/"
    with opener.open(url, timeout=HANG) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode())
    assert token
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "email": email, "name": "New", "password": "a sturdy passphrase"}
    ).encode()
    request = urllib.request.Request(url, data=form, headers={"Referer": url, "Origin": f"http://127.0.0.1:{port}"})
    with opener.open(request, timeout=HANG) as response:
        assert response.status == 200


def test_links_in_mail_point_at_the_port_served(serve):
    served = serve("--no-worker")  # the verification mail stays queued, to be read
    served.wait_until_serving()
    _sign_up(served.port, "new@example.com")
    with sqlite3.connect(served.data_dir / "openesp.sqlite3") as db:
        (text,) = db.execute(
            "SELECT b.text FROM messaging_message m JOIN messaging_messagebody b ON b.id = m.body_id "
            "WHERE m.to_email = 'new@example.com'"
        ).fetchone()
    links = re.findall(r"https?://[^\s]+", text)
    assert links and all(link.startswith(f"http://127.0.0.1:{served.port}/") for link in links), text
    output = served.stop()
    assert f"links in mail start with http://127.0.0.1:{served.port}" in output
    # No provider is configured: the start-up says where the waiting mail's links are read.
    assert f"the Outbox at http://127.0.0.1:{served.port}/outbox/, for a superuser" in output


def test_with_a_standard_provider_there_is_no_outbox_hint(processes, tmp_path, migrated):
    provider = "smtp://relay.example.org:2525"
    served = Served(processes, tmp_path, "--no-worker", migrated=migrated, OPENESP_DEFAULT_PROVIDER=provider)
    served.wait_until_serving()
    output = served.stop()
    assert "links in mail start with" in output and "Outbox" not in output


def test_an_explicit_base_url_wins_over_the_port_served(processes, tmp_path, migrated):
    served = Served(processes, tmp_path, "--no-worker", migrated=migrated, OPENESP_BASE_URL="https://mail.example.org")
    served.wait_until_serving()
    output = served.stop()
    assert "links in mail start with https://mail.example.org\n" in output + "\n"


def test_it_refuses_a_bad_setting_loudly(tmp_path):
    env = clean_env(tmp_path)
    env["OPENESP_SMTP_TIMEOUT"] = "soon"
    result = subprocess.run(
        [sys.executable, "-m", "openesp", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG,
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


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc: Linux)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _gone(pids: set[int]) -> bool:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in pids):
            return True
        time.sleep(0.2)
    return False


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
    except (OSError, StopIteration):
        return "zombie"


def test_several_web_processes_share_the_port_and_stop_with_it(serve):
    served = serve("--no-worker", "--processes", "3")
    served.wait_until_serving()
    web = _children(served.proc.pid)
    assert len(web) == 2  # two forked web processes beside the parent's own server
    for _ in range(12):  # every process answers whichever connection the kernel gives it
        with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/login/", timeout=HANG) as response:
            assert response.status == 200
    output = served.stop()
    assert served.proc.returncode == 0, output
    assert "(3 processes)" in output
    assert _gone(web)


def _listening_sockets(port: int) -> set[int]:
    """The inodes of the sockets listening on ``port`` on the loopback (from /proc: Linux)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: LISTEN
            found.add(int(fields[9]))
    return found


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                found.add(int(target[8:-1]))
    return found


def test_each_web_process_listens_on_a_socket_of_its_own(serve):
    # One socket shared by every process gave a keep-alive client's connections all to the
    # process that happened to be idle first; with one socket each (SO_REUSEPORT) the kernel
    # spreads new connections over them. A copy left open in another process, where nobody
    # accepts on it, would hold the connections the kernel hands it.
    served = serve("--no-worker", "--processes", "3")
    served.wait_until_serving()
    listening = _listening_sockets(served.port)
    assert len(listening) == 3
    owners = [_socket_inodes(pid) & listening for pid in (served.proc.pid, *_children(served.proc.pid))]
    assert sorted(len(own) for own in owners) == [1, 1, 1]
    assert set().union(*owners) == listening
    served.stop()


def test_a_port_in_use_is_refused_with_several_processes_too(processes, tmp_path):
    # SO_REUSEPORT alone would let the sockets share a port another server of this user listens on.
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as taken:
        port = taken.getsockname()[1]
        served = Served(processes, tmp_path, "--no-worker", "--processes", "2", port=port)
        output = served.proc.communicate(timeout=HANG)[0]
        assert served.proc.returncode != 0
        assert "Address already in use" in output


def test_web_processes_leave_when_their_parent_is_killed(serve):
    served = serve("--no-worker", "--processes", "2")
    served.wait_until_serving()
    web = _children(served.proc.pid)
    assert len(web) == 1
    served.proc.send_signal(signal.SIGKILL)
    served.proc.wait(timeout=HANG)
    # Nobody is left answering on the port, and nothing holds the database open.
    assert _gone(web)


# A parent that makes a web process, then waits: the child's application never finishes being
# made (it writes a file when it starts making it), so the parent can be killed at that moment.
_PARENT_OF_A_SLOW_CHILD = """
import socket, sys, threading
import django
django.setup()
from openesp.ops.management.commands import serve

def never_made(listener, threads):
    open(sys.argv[1], "w").close()
    threading.Event().wait()

serve._web_server = never_made
listener = socket.create_server(("127.0.0.1", 0))
print(serve._fork_web(listener, [listener], 1), flush=True)
threading.Event().wait()
"""


def test_a_web_process_killed_with_its_parent_while_starting_leaves_too(processes, tmp_path, migrated):
    # Its parent's pid used to be read after the application was made: a parent killed before
    # that left the child watching its reaper, serving on the port for ever.
    shutil.copytree(migrated, tmp_path / "var")
    started = tmp_path / "child-started"
    parent = processes.start(
        [sys.executable, "-c", _PARENT_OF_A_SLOW_CHILD, str(started)],
        cwd=REPO,
        env=clean_env(tmp_path / "var") | {"DJANGO_SETTINGS_MODULE": "openesp.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    wait_until(started.exists, "the web process to start making its application", every=0.1)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=HANG)
    assert _gone({child})

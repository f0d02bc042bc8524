"""The inbound MX as the operator runs it: inside ``openesp serve`` when a bounce domain is set,
and alone as ``openesp mx``; real processes, a real SMTP client."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import sys
import time

from tests.processes import HANG, REPO, Served, clean_env, free_port

DOMAIN = "bounces.openesp.test"


def _wait_for_mx(port: int, proc: subprocess.Popen) -> smtplib.SMTP:
    deadline = time.monotonic() + HANG
    while True:
        try:
            return smtplib.SMTP("127.0.0.1", port, timeout=HANG)
        except OSError:
            assert proc.poll() is None, "the process ended before the MX answered"
            assert time.monotonic() < deadline, "the MX did not start"
            time.sleep(0.3)


def _refuses_forged_recipients(client: smtplib.SMTP) -> None:
    client.ehlo()
    assert "auth" not in client.esmtp_features
    client.mail("")
    assert client.rcpt(f"b+{'0' * 32}.{'f' * 16}@{DOMAIN}")[0] == 550
    client.quit()


def test_serve_runs_the_mx_when_a_bounce_domain_is_set(processes, tmp_path, migrated):
    mx_port = free_port()
    served = Served(processes, tmp_path, "--no-worker", migrated=migrated, OPENESP_BOUNCE_DOMAIN=DOMAIN,
                    OPENESP_MX_PORT=str(mx_port), OPENESP_MX_HOST="127.0.0.1")  # fmt: skip
    served.wait_until_serving()
    _refuses_forged_recipients(_wait_for_mx(mx_port, served.proc))
    assert "mx" in served.stop()  # the start line names the components


def test_openesp_mx_runs_alone_and_stops_on_sigterm(processes, tmp_path, migrated):
    port = free_port()
    shutil.copytree(migrated, tmp_path / "var")
    env = clean_env(tmp_path / "var") | {"OPENESP_BOUNCE_DOMAIN": DOMAIN}
    proc = processes.start(
        [sys.executable, "-m", "openesp", "mx", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _refuses_forged_recipients(_wait_for_mx(port, proc))
    assert processes.stop(proc) == 0
    assert f"bounce mail for @{DOMAIN} on 127.0.0.1:{port}" in proc.stdout.read()


def test_openesp_mx_refuses_to_run_without_a_bounce_domain(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "openesp", "mx"], cwd=REPO, env=clean_env(tmp_path / "var"),
        capture_output=True, text=True, timeout=HANG,
    )  # fmt: skip
    assert result.returncode != 0
    assert "OPENESP_BOUNCE_DOMAIN is not set" in result.stderr

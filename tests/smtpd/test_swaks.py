"""Conversations with ``swaks`` (the Debian package): what an SMTP tester sees.

No AUTH before TLS, no MAIL without AUTH, a wrong password refused and then limited, oversize
refused, smuggling refused, and a good message accepted (and relayed by a worker to a sink).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from openesp.delivery.worker import Worker
from openesp.messaging.models import Message, Status
from tests.processes import HANG

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed"),
]


def swaks(port: int, *args: str) -> str:
    """The whole conversation swaks printed (it exits non-zero when the server refuses)."""
    result = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(port), "--from", "alice@example.org",
         "--to", "bob@example.net", "--timeout", "60", *args],
        capture_output=True, text=True, timeout=HANG, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_no_auth_before_tls(submission_server, sending_key):
    out = swaks(submission_server.port, "--auth", "PLAIN", "--auth-user", "apikey", "--auth-password", sending_key)
    # AUTH is not offered in clear, so swaks gives up before sending the password.
    assert "250-AUTH" not in out and "250 AUTH" not in out
    assert "not advertise" in out.lower() or "530" in out
    assert "AUTH PLAIN" not in out
    assert not Message.objects.exists()


def test_no_mail_without_auth(submission_server):
    out = swaks(submission_server.port, "--tls")
    assert " 530 5.7.0" in out
    assert not Message.objects.exists()


def test_a_wrong_password_is_refused_and_then_limited(submission_server, settings):
    settings.OPENESP_API_KEY_FAILURES_PER_MINUTE = 2
    wrong = ("--tls", "--auth", "PLAIN", "--auth-user", "apikey", "--auth-password", "oe_aaaaaaaa_" + "x" * 43)
    replies = [swaks(submission_server.port, *wrong) for _ in range(4)]
    assert " 535 5.7.8" in replies[0]
    assert " 421 4.7.0" in replies[-1]


def test_oversize_is_refused(submission_server, sending_key, settings, tmp_path: Path):
    settings.OPENESP_SMTP_MAX_BYTES = 20_000  # read when a session starts
    body = tmp_path / "big.txt"
    body.write_text("x" * 70 + "\r\n" * 1 + ("y" * 70 + "\r\n") * 400)
    out = swaks(
        submission_server.port, "--tls", "--auth", "PLAIN", "--auth-user", "apikey",
        "--auth-password", sending_key, "--body", str(body),
    )  # fmt: skip
    assert "SIZE 20000" in out
    assert " 552 5.3.4" in out
    assert not Message.objects.exists()


@pytest.mark.parametrize("smuggle", [b"\n.\r\n", b"\r\n.\n"])
def test_smuggling_is_refused(submission_server, sending_key, smuggle, tmp_path: Path):
    data = tmp_path / "smuggle.eml"
    data.write_bytes(
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: one\r\n\r\nfirst" + smuggle
        + b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: ceo@bank.example\r\n"
        b"Subject: smuggled\r\n\r\nsecond\r\n.\r\n"
    )  # fmt: skip
    # --no-data-fixup: swaks sends the bytes as they are (bare line ends and the final dot).
    out = swaks(
        submission_server.port, "--tls", "--auth", "PLAIN", "--auth-user", "apikey",
        "--auth-password", sending_key, "--data", f"@{data}", "--no-data-fixup",
    )  # fmt: skip
    assert " 550 5.6.11" in out
    assert not Message.objects.exists()


def test_a_good_message_is_accepted_and_delivered(submission_server, sending_key, smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://127.0.0.1:{smtp_server_no_tls.port}?security=none"
    out = swaks(
        submission_server.tls_port, "--tls-on-connect", "--auth", "LOGIN", "--auth-user", "apikey",
        "--auth-password", sending_key, "--header", "Subject: via swaks", "--body", "hello from swaks",
    )  # fmt: skip
    assert " 250 2.0.0 OK: queued 1" in out
    message = Message.objects.get()
    worker = Worker("t", batch_size=10)
    try:
        worker.run_once()
    finally:
        worker.close()
    message.refresh_from_db()
    assert message.status == Status.SENT
    (received,) = smtp_server_no_tls.messages
    assert received.rcpt_tos == ["bob@example.net"]
    assert b"hello from swaks" in received.data and b"Subject: via swaks" in received.data

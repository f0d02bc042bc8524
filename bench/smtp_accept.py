"""SMTP submission benchmark: messages submitted to ``openesp smtp`` over implicit TLS with AUTH
by parallel sessions, until each got its 250 (committed); then the same load against Postfix
on loopback, configured here in a temporary directory as a relay to smtp-sink.

    python -m bench.smtp_accept --messages 20000 [--sessions 20] [--clients 4]
        [--database-url postgres://… [--server-processes 2]]

Postfix's own load generator, smtp-source, cannot AUTH, so both servers are driven by the small
asyncio client below (aiosmtplib), its sessions spread over a few processes. Postfix gets TLS
but no AUTH (it has no SASL backend without Dovecot or Cyrus): it does a little less work per
message than openesp. The last line is
``messages_per_second=<float> ratio_to_postfix=<float>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.delivery import find, free_port, start_sink
from bench.site import scratch_site

BODY = "Hello,\r\n\r\nyour order has shipped. Thank you for shopping with us.\r\n" * 10


def _message(n: int) -> str:
    return (
        f"From: Shop <shop@example.org>\r\nTo: r{n}@example.net\r\nSubject: Order {n}\r\n"
        f"Message-ID: <bench-{n}@example.org>\r\n\r\n{BODY}"
    )


async def _sessions(port: int, numbers: list[range], auth: tuple[str, str] | None) -> tuple[float, float]:
    """Run one session per range of message numbers; (started, finished) as UNIX times."""
    import aiosmtplib

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # both servers use a self-signed certificate on loopback

    async def session(part: range) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, use_tls=True, tls_context=context, timeout=300)
        await client.connect()
        if auth is not None:
            await client.login(*auth)
        for n in part:
            await client.sendmail("shop@example.org", [f"r{n}@example.net"], _message(n))
        await client.quit()

    started = time.time()
    await asyncio.gather(*(session(part) for part in numbers))
    return started, time.time()


def _client_process(port: int, numbers: list[range], auth: tuple[str, str] | None) -> tuple[float, float]:
    return asyncio.run(_sessions(port, numbers, auth))


def _drive(port: int, messages: int, sessions: int, clients: int, auth: tuple[str, str] | None) -> float:
    """Seconds to submit ``messages`` over ``sessions`` parallel implicit-TLS sessions, spread
    over ``clients`` processes (one Python process alone cannot keep a fast server busy)."""
    per = -(-messages // sessions)
    parts = [range(i, min(i + per, messages)) for i in range(0, messages, per)]
    with ProcessPoolExecutor(clients) as pool:
        spans = list(pool.map(_client_process, [port] * clients, [parts[c::clients] for c in range(clients)],
                              [auth] * clients))  # fmt: skip
    return max(end for _s, end in spans) - min(start for start, _e in spans)


def _wait_listening(port: int, proc: subprocess.Popen[bytes] | None, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                if log is not None and log.exists():
                    sys.stderr.write(log.read_text(errors="replace")[-3000:])
                sys.exit(f"{what} exited ({proc.returncode}) before it listened")
            time.sleep(0.1)
    sys.exit(f"{what} did not start")


def _openesp_site(data_dir: Path) -> str:
    """Migrate the scratch site, add a sending domain and a key; the key."""
    import django

    django.setup()
    from django.core.management import call_command

    from openesp.accounts.apikeys import create_api_key
    from openesp.accounts.models import User
    from openesp.messaging.senders import add_sending_domain

    call_command("migrate", interactive=False, verbosity=0)
    user = User.objects.create_user("bench@example.org", "bench-password-1", email_verified=True)
    add_sending_domain("example.org")
    return create_api_key(user, scopes=["messages.send"])[1]


def _postfix(directory: Path, port: int, sink_port: int, cert: Path, key: Path) -> subprocess.Popen[bytes]:
    """A Postfix instance of its own in ``directory`` (configuration, queue, data, log), in the
    foreground (``start-fg``: no syslog needed, ``postfix -c DIR stop`` ends it)."""
    queue, data = directory / "queue", directory / "data"
    for path in (queue, data):
        path.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postfix")  # master.lock and the TLS caches are written as postfix
    master = Path("/etc/postfix/master.cf").read_text()
    # Only our listener: the stock one on port 25 is another instance's.
    master = "\n".join(line for line in master.splitlines() if not line.startswith("smtp      inet"))
    master += f"\n127.0.0.1:{port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n"
    (directory / "master.cf").write_text(master)
    (directory / "main.cf").write_text(
        f"queue_directory = {queue}\ndata_directory = {data}\nmail_owner = postfix\n"
        "compatibility_level = 3.6\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        "myhostname = bench.localdomain\nmydestination =\nmynetworks = 127.0.0.0/8\n"
        f"relayhost = [127.0.0.1]:{sink_port}\nsmtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n"
        "smtpd_tls_security_level = may\nsmtp_tls_security_level = none\n"
        # Postfix writes its log only under maillog_file_prefixes (/var, /dev/stdout).
        "maillog_file = /dev/stdout\n"
        "default_process_limit = 100\nsmtpd_client_connection_count_limit = 0\n"
        "smtpd_relay_restrictions = permit_mynetworks, reject\nalias_maps =\nalias_database =\n"
        "smtpd_client_restrictions =\nsmtpd_helo_required = no\n"
    )
    postfix = find("postfix")
    subprocess.run([postfix, "-c", str(directory), "set-permissions"], check=False, capture_output=True)
    with (directory / "maillog").open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([postfix, "-c", str(directory), "start-fg"], stdout=log, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="client processes the sessions are spread over")
    parser.add_argument("--server-processes", type=int, default=1, help="openesp smtp --processes (PostgreSQL)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server for a scratch database")
    args = parser.parse_args()

    sink_port = free_port()
    sink = start_sink(sink_port)
    try:
        with scratch_site("openesp-bench-smtp-", args.database_url) as data_dir:
            key = _openesp_site(data_dir)
            port, tls_port = free_port(), free_port()
            env = dict(os.environ, OPENESP_SMTP_PORT=str(port), OPENESP_SMTPS_PORT=str(tls_port))
            server = subprocess.Popen(
                [sys.executable, "-m", "openesp", "smtp", "--processes", str(args.server_processes)],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            try:
                _wait_listening(tls_port, server, "openesp smtp")
                seconds = _drive(tls_port, args.messages, args.sessions, args.clients, ("apikey", key))
            finally:
                server.terminate()
                server.wait(timeout=60)
            from openesp.messaging.models import Message

            queued = Message.objects.count()
            openesp_rate = args.messages / seconds
            print(f"openesp: {args.messages} messages in {seconds:.2f} s over {args.sessions} sessions "
                  f"(TLS + AUTH), {queued} queued: {openesp_rate:.0f} msg/s")  # fmt: skip
            if queued != args.messages:
                sys.exit(f"{queued} messages queued, {args.messages} expected")

            with tempfile.TemporaryDirectory(prefix="openesp-bench-postfix-") as raw:
                directory = Path(raw)
                os.chmod(directory, 0o755)
                postfix_port = free_port()
                postfix = _postfix(
                    directory, postfix_port, sink_port, data_dir / "smtp-cert.pem", data_dir / "smtp-key.pem"
                )
                try:
                    _wait_listening(postfix_port, postfix, "postfix", directory / "maillog")
                    postfix_seconds = _drive(postfix_port, args.messages, args.sessions, args.clients, None)
                finally:
                    subprocess.run([find("postfix"), "-c", raw, "stop"], check=False, capture_output=True)
                    postfix.wait(timeout=60)
            postfix_rate = args.messages / postfix_seconds
            print(
                f"postfix: {args.messages} messages in {postfix_seconds:.2f} s (TLS, no AUTH): {postfix_rate:.0f} msg/s"
            )
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    print(f"messages_per_second={openesp_rate:.1f} ratio_to_postfix={openesp_rate / postfix_rate:.3f}")


if __name__ == "__main__":
    main()

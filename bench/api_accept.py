"""Accepting mail over HTTP as a user runs openesp: ``openesp serve`` on a fresh data directory,
driven by Debian's ``wrk`` over keep-alive connections.

    python -m bench.api_accept
    python -m bench.api_accept --database-url postgres://postgres@127.0.0.1:5432/test
    python -m bench.api_accept --api sendgrid      # the same load through POST /v3/mail/send
    python -m bench.api_accept --api mailjet       # … through POST /v3.1/send

Without ``--database-url`` the database is SQLite in the data directory; with one, a scratch
database is made beside the one named and dropped afterwards. The server is started as
``python -m openesp serve`` (web, API and the delivery worker in one process; no provider is
configured, so the worker leaves the mail queued and only competes for the database as it does
for a user trying openesp out). Three phases, each after a warm-up of its own:

1. single-recipient sends from ``--connections`` keep-alive connections (``wrk``, in C, on its own
   threads: not the bottleneck);
2. sends with ``--recipients`` visible recipients each (1,000 by default);
3. ``POST /api/v1/messages/batch`` with 500 individual messages each (native API only).

Every 202's ids are written down by wrk's Lua script and looked up in the database afterwards:
a figure counts only messages that were really committed. Needs ``wrk`` (``apt-get install wrk``).
The last line is ``requests_per_second=<f> batched_messages_per_second=<f> p99_ms=<f>``
(phase 1's rate and 99th percentile latency, phase 3's messages per second; with ``--api`` the
compatible API has no batch route and phase 3 reports phase 2's messages per second).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.site import scratch_site

MARK = "@@N@@-@@N@@"  # in each request body: the wrk thread's and the request's numbers
TEXT = "Thank you for your order. We will let you know when it ships. " * 8  # about 500 bytes

# wrk's Lua side: one request body per call (a counter makes each unique), every 202's body
# written to a file per thread for the check afterwards, and one RESULT line at the end.
LUA = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  out = io.open(args[1] .. "/ids-" .. tid .. ".txt", "w")
  out:setvbuf("line")
  n = 0
  accepted = 0
  failed = 0
  first_error = ""
end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(BODY, tid, n, tid, n))
end
function response(status, headers, body)
  if status == STATUS_OK then
    accepted = accepted + 1
    out:write(ID_OF(headers, body), "\n")
  else
    failed = failed + 1
    if first_error == "" then first_error = status .. " " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local a, f, e = 0, 0, ""
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    f = f + t:get("failed")
    if e == "" then e = t:get("first_error") end
  end
  io.write(string.format("RESULT accepted=%d failed=%d p50_ms=%.3f p99_ms=%.3f duration_s=%.3f\n",
    a, f, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
  if e ~= "" then io.write("FIRST_ERROR " .. e .. "\n") end
end
"""

# How each API answers an accepted request, and where its message ids are.
ID_OF = {
    # {"ids": [...]} or {"messages": [{"ids": [...]}, ...]}: the whole body, parsed afterwards.
    "native": "function ID_OF(headers, body) return body end",
    # 202 with an empty body and the message id in X-Message-Id.
    "sendgrid": 'function ID_OF(headers, body) return headers["X-Message-Id"] or headers["x-message-id"] or "" end',
    "mailjet": "function ID_OF(headers, body) return body end",
}
STATUS_OK = {"native": 202, "sendgrid": 202, "mailjet": 200}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_string(text: str) -> str:
    """``text`` as a Lua long string literal usable with string.format (``%`` doubled)."""
    text = text.replace("%", "%%").replace("@@N@@", "%d")
    level = "=" * 3
    return f"[{level}[{text}]{level}]"


def native_body(sender: str, recipients: int) -> tuple[str, str]:
    """(path, JSON template); ``@@N@@-@@N@@`` becomes the wrk thread and request numbers."""
    if recipients == 1:
        body = {"from": sender, "to": [{"email": f"customer-{MARK}@example.net", "name": "A Customer"}],
                "subject": "Your order", "text": TEXT, "tags": ["orders"]}  # fmt: skip
    else:
        # The same visible recipients in each request; the request's numbers in the subject.
        body = {"from": sender, "to": [f"reader{i}@example.net" for i in range(recipients)],
                "subject": f"Our news {MARK}", "text": TEXT, "tags": ["news"]}  # fmt: skip
    return "/api/v1/messages", json.dumps(body)


def batch_body(sender: str, size: int) -> tuple[str, str]:
    """500 individual messages; the first one's subject carries the request's numbers."""
    messages = [
        {"from": sender, "to": [f"customer-{i}@example.net"], "subject": f"Your order {MARK if i == 0 else i}",
         "text": TEXT}
        for i in range(size)
    ]  # fmt: skip
    return "/api/v1/messages/batch", json.dumps({"messages": messages})


def sendgrid_body(sender: str, recipients: int) -> tuple[str, str]:
    if recipients == 1:
        personalizations = [{"to": [{"email": f"customer-{MARK}@example.net"}]}]
    else:
        personalizations = [{"to": [{"email": f"reader{i}@example.net"} for i in range(recipients)]}]
    body = {
        "personalizations": personalizations,
        "from": {"email": sender},
        "subject": f"Our news {MARK}" if recipients > 1 else "Your order",
        "content": [{"type": "text/plain", "value": TEXT}],
        "categories": ["orders"],
    }
    return "/v3/mail/send", json.dumps(body)


def mailjet_body(sender: str, recipients: int) -> tuple[str, str]:
    to = (
        [{"Email": f"customer-{MARK}@example.net"}]
        if recipients == 1
        else [{"Email": f"reader{i}@example.net"} for i in range(recipients)]
    )
    message = {"From": {"Email": sender}, "To": to, "Subject": "Your order", "TextPart": TEXT}
    if recipients > 1:
        message["Subject"] = f"Our news {MARK}"
    return "/v3.1/send", json.dumps({"Messages": [message]})


BODIES = {"native": native_body, "sendgrid": sendgrid_body, "mailjet": mailjet_body}


@dataclass
class Phase:
    requests_per_second: float
    accepted: int
    failed: int
    p50_ms: float
    p99_ms: float
    ids: list[str]


def wrk_phase(
    url: str, path: str, template: str, headers: dict[str, str], api: str, connections: int, seconds: int, work: Path
) -> Phase:
    """Drive ``path`` with wrk for ``seconds``; the ids of every accepted request."""
    for old in work.glob("ids-*.txt"):
        old.unlink()
    assert template.count(MARK) == 1, "a request body carries the request's numbers exactly once"
    script = work / "bench.lua"
    script.write_text(
        f"BODY = {lua_string(template)}\nSTATUS_OK = {STATUS_OK[api]}\n{ID_OF[api]}\n"
        + "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
        + '\nwrk.method = "POST"\n'
        + LUA
    )
    threads = min(2, connections)
    proc = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "30s", "-s", str(script), url + path, "--", str(work)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(
        r"RESULT accepted=(\d+) failed=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) duration_s=([\d.]+)", proc.stdout
    )
    if match is None:
        sys.exit(f"wrk gave no result:\n{proc.stdout}\n{proc.stderr}")
    error = re.search(r"FIRST_ERROR (.*)", proc.stdout)
    if error:
        print(f"  first refused request: {error.group(1)[:300]}")
    accepted, failed = int(match.group(1)), int(match.group(2))
    ids = [line for f in sorted(work.glob("ids-*.txt")) for line in f.read_text().splitlines() if line]
    return Phase(accepted / float(match.group(5)), accepted, failed, float(match.group(3)), float(match.group(4)), ids)


def message_ids(api: str, answers: list[str]) -> list[str]:
    """The message ids in the answers wrk wrote down."""
    ids: list[str] = []
    for answer in answers:
        if api == "sendgrid":
            ids.append(answer)
            continue
        data = json.loads(answer)
        if api == "mailjet":
            for message in data["Messages"]:
                ids += [str(to["MessageUUID"]) for to in message.get("To", [])]
        elif "messages" in data:
            for entry in data["messages"]:
                ids += entry.get("ids", [])
        else:
            ids += data["ids"]
    return ids


def wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("openesp serve exited during start-up")
        try:
            if httpx.get(url + "/", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("openesp serve did not answer within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--api", choices=["native", "sendgrid", "mailjet"], default="native")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (phase 1)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured phase")
    parser.add_argument("--recipients", type=int, default=1000, help="visible recipients per request (phase 2)")
    parser.add_argument("--batch-size", type=int, default=500, help="messages per batch request (phase 3)")
    parser.add_argument("--processes", type=int, help="`openesp serve --processes` (default: serve's own)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    with scratch_site("openesp-bench-accept-", args.database_url):
        run(args)


def run(args: argparse.Namespace) -> None:
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    import django

    django.setup()
    from django.db import connection

    from openesp.accounts.apikeys import create_api_key
    from openesp.accounts.models import User
    from openesp.messaging.models import Message

    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench", email_verified=True)
    key, raw = create_api_key(user, scopes=["messages.send"])
    vendor = connection.vendor
    connection.close()
    basic = "Basic " + base64.b64encode(f"apikey:{raw}".encode()).decode()
    auth = basic if args.api == "mailjet" else f"Bearer {raw}"
    headers = {"Authorization": auth, "Content-Type": "application/json"}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="openesp-bench-wrk-"))
    server_log = (work / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "openesp", "serve", "--port", str(port), "--no-migrate"]
        + (["--processes", str(args.processes)] if args.processes else []),
        env={**os.environ, "OPENESP_BASE_URL": url},
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(url, server)
        cpu = _cpu_model()
        print(f"database: {vendor}; api: {args.api}; server: openesp serve (pid {server.pid}); cpu: {cpu}")
        build = BODIES[args.api]

        def phase(name: str, path: str, template: str, connections: int, size: int = 1) -> Phase:
            wrk_phase(url, path, template, headers, args.api, connections, 3, work)  # warm-up
            cpu_before, load_before = server_cpu_seconds(server.pid), os.getloadavg()[0]
            result = wrk_phase(url, path, template, headers, args.api, connections, args.seconds, work)
            cpu = server_cpu_seconds(server.pid) - cpu_before
            ids = message_ids(args.api, result.ids)
            found = Message.objects.filter(public_id__in=ids).count() if ids else 0
            # SendGrid answers one X-Message-Id per request (its first message); the others
            # answer every message's id.
            per = size if args.api == "sendgrid" else len(ids) / max(result.accepted, 1)
            print(
                f"{name}: {result.requests_per_second:.1f} requests/s, {result.requests_per_second * per:.0f} "
                f"messages/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; {result.accepted} accepted, "
                f"{result.failed} refused; {found:,} of {len(ids):,} message ids found in the database"
            )
            # The server's own CPU time (every process of it) per request: what a shared,
            # noisy machine changes least; the load average says how shared it was.
            print(
                f"  server CPU {cpu:.1f} s in {args.seconds} s: {cpu * 1000 / max(result.accepted, 1):.2f} ms per "
                f"request; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
            )
            if found != len(ids):
                sys.exit(f"{len(ids) - found} accepted messages are not in the database")
            if result.failed:
                sys.exit(f"{name}: {result.failed} requests were refused")
            return result

        single = phase("single recipient", *build(user.email, 1), args.connections)
        many = phase(f"{args.recipients} recipients", *build(user.email, args.recipients), 4, args.recipients)
        if args.api == "native":
            batched = phase(f"batches of {args.batch_size}", *batch_body(user.email, args.batch_size), 4)
            batched_rate = batched.requests_per_second * args.batch_size
        else:
            batched_rate = many.requests_per_second * args.recipients
        connection.close()
    finally:
        # What the server logged while serving; stopping it under load (requests wrk gave up on
        # still being answered) may make the HTTP server log closed sockets, which is not a failure.
        served_bytes = (work / "serve.log").stat().st_size
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        lines = (work / "serve.log").read_bytes()[:served_bytes].decode(errors="replace").splitlines()
        errors = [n for n, line in enumerate(lines) if " ERROR " in line]
        if errors:
            first = "\n".join(lines[errors[0] : errors[0] + 30])
            print(f"openesp serve logged {len(errors)} errors; the first:\n{first}")
        shutil.rmtree(work, ignore_errors=True)
    del key
    print(
        f"requests_per_second={single.requests_per_second:.1f} batched_messages_per_second={batched_rate:.1f} "
        f"p99_ms={single.p99_ms:.1f}"
    )


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the forked web processes), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" × {os.cpu_count()}"
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()

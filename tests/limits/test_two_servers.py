"""The limits hold across processes: two real ``openesp serve --no-worker`` on the same
database, an attacker alternating between them, and ``openesp limits`` to see and lift a block.

The servers trust 127.0.0.1 as a reverse proxy, so each request names its client in
X-Forwarded-For, as a proxy in front of both would.
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import User
from openesp.messaging.models import Message
from tests.conftest import PASSWORD
from tests.processes import HANG, Served, run_database_url

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Client:
    """A browser at ``address`` (behind the proxy) talking to one server."""

    def __init__(self, server: Served, address: str) -> None:
        self.base = f"http://127.0.0.1:{server.port}"
        self.address = address
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def _open(self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None):
        url = self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        sent = {"X-Forwarded-For": self.address, "Referer": url, "Origin": self.base} | (headers or {})
        request = urllib.request.Request(url, data=body, headers=sent)
        try:
            response = self.opener.open(request, timeout=HANG)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers
        with response:
            return response.status, response.read().decode(), response.headers

    def form(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        _status, html, _headers = self._open(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token, html
        status, page, _headers = self._open(path, {"csrfmiddlewaretoken": token.group(1), **data})
        return status, page

    def api(self, key: str) -> tuple[int, str, object]:
        return self._open("/api/v1/me", headers={"Authorization": f"Bearer {key}"})


def _early_in_a_minute() -> None:
    """Wait, if need be, until a minute of the clock has at least 20 seconds left.

    The API-key limit counts failures in a sliding minute, estimated from the clock's whole
    minutes (``openesp.lib.ratelimit``): twenty failures that straddle the end of one refuse the
    next attempt for only the few seconds until the earlier minute's share has worn off — too
    short for ``openesp limits`` to start and see the block. Twenty in one minute block the key
    for the rest of that minute.
    """
    second = time.time() % 60
    if second > 40:
        time.sleep(60 - second + 0.1)


def test_limits_hold_across_two_server_processes(processes, tmp_path: Path):
    alice = User.objects.create_user("alice@example.org", PASSWORD, name="Alice", email_verified=True)
    _key, good_key = create_api_key(alice)
    env = {
        "DATABASE_URL": run_database_url(),
        "OPENESP_SECRET_KEY": settings.SECRET_KEY,  # API keys are HMACs keyed by it
        "OPENESP_TRUSTED_PROXIES": "127.0.0.1",
        "OPENESP_LOG_LEVEL": "WARNING",
    }
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(Served(processes, tmp_path / name, "--no-worker", "--no-migrate", **env))
    for server in servers:
        server.wait_until_serving()
    a, b = servers

    # API keys: twenty wrong ones over both, then 429 on either; the good key elsewhere works.
    _early_in_a_minute()
    bad = "oe_deadbeef_notarealsecretatall"
    assert [Client(s, ATTACKER).api(bad)[0] for s in (a, b) * 10] == [401] * 20
    status, _body, headers = Client(b, ATTACKER).api(bad)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert Client(a, ATTACKER).api(good_key)[0] == 429
    assert Client(a, OWNER).api(good_key)[0] == 200
    # Read at once: this block lasts only until the minute the failures fell in is over, which
    # the log-in and password-reset steps below can take on a loaded machine.
    assert f"api-key:{ATTACKER}" in a.openesp("limits")

    # Log-in: five wrong passwords spread over both processes; the sixth is refused by either.
    wrong = {"username": alice.email, "password": "wrong password"}
    for server in (a, b, a, b, a):
        assert Client(server, ATTACKER).form("/login/", wrong)[0] == 200
    for server in (b, a):
        status, page = Client(server, ATTACKER).form("/login/", wrong)
        assert status == 429 and "Try again in" in page
    right = {"username": alice.email, "password": PASSWORD}
    assert Client(b, OWNER).form("/login/", right)[0] == 302

    # Password reset: twenty requests over both processes, one mail.
    answers = {Client(s, ATTACKER).form("/password-reset/", {"email": alice.email}) for s in (a, b) * 10}
    assert {status for status, _page in answers} == {200}
    assert Message.objects.filter(to_email=alice.email, subject__icontains="reset").count() == 1

    # The operator sees the log-in block and why, and lifts it.
    listing = a.openesp("limits")
    assert f"login:alice@example.org:{ATTACKER}" in listing
    assert f"failed log-ins for alice@example.org from {ATTACKER}" in listing
    assert "lifted" in b.openesp("limits", "lift", f"login:alice@example.org:{ATTACKER}")
    assert f"login:alice@example.org:{ATTACKER}" not in a.openesp("limits", "list")
    assert Client(a, ATTACKER).form("/login/", right)[0] == 302
    # A key that is not limited: the command says so and fails.
    with pytest.raises(subprocess.CalledProcessError) as failed:
        a.openesp("limits", "lift", "login:nobody@example.org:192.0.2.1")
    assert "is not limited" in failed.value.stderr

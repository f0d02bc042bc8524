"""Sign-ups per client address, failed API keys per client address, and which address a
client is (the socket, or X-Forwarded-For behind a trusted proxy only)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from openesp.accounts.models import User
from openesp.lib.clientaddr import client_address, limit_address
from openesp.lib.env import envnetworks
from tests.api.conftest import api_for
from tests.limits.helpers import row_counts

pytestmark = pytest.mark.django_db


def _sign_up(client, n: int, address: str):
    data = {"email": f"new{n}@example.com", "name": "New", "password": "a sturdy passphrase"}
    response = client.post(reverse("signup"), data, REMOTE_ADDR=address)
    client.logout()
    return response


def test_ten_sign_ups_an_hour_from_one_address(client):
    assert [_sign_up(client, n, "203.0.113.9").status_code for n in range(10)] == [302] * 10
    before = row_counts()
    eleventh = _sign_up(client, 10, "203.0.113.9")
    assert eleventh.status_code == 429
    assert 'data-testid="refused"' in eleventh.content.decode() and "Try again in" in eleventh.content.decode()
    assert row_counts() == before
    assert not User.objects.filter(email="new10@example.com").exists()
    assert _sign_up(client, 11, "198.51.100.7").status_code == 302


def test_a_flood_of_bad_keys_gets_429_while_a_good_key_elsewhere_gets_200(client, alice):
    good = api_for(alice).key
    bad = {"HTTP_AUTHORIZATION": "Bearer oe_deadbeef_notarealsecretatall"}
    codes = [client.get("/api/v1/me", REMOTE_ADDR="203.0.113.9", **bad).status_code for _ in range(20)]
    assert codes == [401] * 20
    before = row_counts()
    flooded = client.get("/api/v1/me", REMOTE_ADDR="203.0.113.9", **bad)
    assert flooded.status_code == 429 and flooded.json()["error"] == "throttled"
    assert 1 <= int(flooded["Retry-After"]) <= 60
    # Even the right key is refused from the flooding address: a 200 there would tell a guess right.
    right_there = client.get("/api/v1/me", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert right_there.status_code == 429
    elsewhere = client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert elsewhere.status_code == 200 and elsewhere.json()["email"] == alice.email
    assert row_counts() == before
    # No key at all is no guess: it is not counted and still answered 401.
    assert client.get("/api/v1/me", REMOTE_ADDR="192.0.2.1").status_code == 401


def test_the_openapi_schema_states_the_429(client):
    schema = client.get("/api/openapi.json").json()
    assert "429" in schema["paths"]["/api/v1/me"]["get"]["responses"]


def _request(remote: str, forwarded: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(monkeypatch, settings):
    settings.OPENESP_TRUSTED_PROXIES = []
    assert client_address(_request("203.0.113.9", "198.51.100.7")) == "203.0.113.9"
    monkeypatch.setenv("OPENESP_TRUSTED_PROXIES", "10.0.0.0/8")
    settings.OPENESP_TRUSTED_PROXIES = envnetworks("OPENESP_TRUSTED_PROXIES")
    # From a proxy not named: the header is the client's own claim.
    assert client_address(_request("192.0.2.5", "198.51.100.7")) == "192.0.2.5"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client(monkeypatch, settings):
    monkeypatch.setenv("OPENESP_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::1")
    settings.OPENESP_TRUSTED_PROXIES = envnetworks("OPENESP_TRUSTED_PROXIES")
    assert client_address(_request("10.1.2.3", "198.51.100.7")) == "198.51.100.7"
    # What the client wrote itself (left) is not believed; the proxies' own hops are skipped.
    assert client_address(_request("10.1.2.3", "1.2.3.4, 198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    assert client_address(_request("2001:db8::1", "[2001:db8:5::7]:4431")) == "2001:db8:5::7"
    assert client_address(_request("10.1.2.3", "")) == "10.1.2.3"
    assert client_address(_request("10.1.2.3", "not-an-address")) == "10.1.2.3"


def test_a_bad_proxy_setting_stops_start_up(monkeypatch):
    from openesp.lib.env import ConfigError

    monkeypatch.setenv("OPENESP_TRUSTED_PROXIES", "10.0.0.0/8, proxy.example.com")
    with pytest.raises(ConfigError, match=r"OPENESP_TRUSTED_PROXIES: 'proxy\.example\.com'"):
        envnetworks("OPENESP_TRUSTED_PROXIES")


def test_an_ipv6_client_is_counted_by_its_64():
    assert limit_address("2001:db8:1:2:aaaa::1") == limit_address("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_address("::ffff:203.0.113.9") == "203.0.113.9"


def test_the_login_limit_counts_the_forwarded_client_behind_a_trusted_proxy(client, alice, monkeypatch, settings):
    monkeypatch.setenv("OPENESP_TRUSTED_PROXIES", "127.0.0.1")
    settings.OPENESP_TRUSTED_PROXIES = envnetworks("OPENESP_TRUSTED_PROXIES")
    data = {"username": alice.email, "password": "wrong password"}
    for _attempt in range(5):
        client.post(reverse("login"), data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    refused = client.post(reverse("login"), data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert refused.status_code == 429
    right = {"username": alice.email, "password": "correct horse battery staple"}
    other = client.post(reverse("login"), right, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert other.status_code == 302

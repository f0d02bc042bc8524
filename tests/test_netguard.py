"""The SSRF guard: customer-supplied hosts never reach loopback, private, link-local or metadata
addresses (unless the operator allows private hosts, and metadata never)."""

from __future__ import annotations

import socket
import threading

import pytest

from openesp.esp.actions import EspInput, validate
from openesp.lib import netguard
from openesp.lib.errors import InvalidInput

REFUSED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.100.100.200",  # Alibaba metadata
    "fd00:ec2::254",  # AWS metadata over IPv6
    "::1",
    "::",
    "0.0.0.0",
    "224.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",  # ... as hex
    "017700000001",  # ... as octal
    "127.1",  # ... shortened
    "fe80::1",
    "100.64.0.1",  # carrier-grade NAT
    "240.0.0.1",  # reserved
]


@pytest.fixture
def strict(settings):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = False
    settings.OPENESP_SMTP_ALLOWED_PORTS = [25, 465, 587, 2525]
    settings.OPENESP_SMTP_SOURCE_ADDRESS = ""


@pytest.fixture
def dns(monkeypatch):
    """Fake answers for chosen names at the network edge (getaddrinfo); others resolve for real."""
    answers: dict[str, list[list[str]]] = {}
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        if host not in answers:
            return real(host, port, *args, **kwargs)
        # Each call takes the next answer, the last one repeating: a name that changes (rebinding).
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, calls


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_it_refuses_every_internal_address_form(strict, host):
    with pytest.raises(netguard.HostRefused, match="not allowed"):
        netguard.resolve(host, 587)


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:4860:4860::8888", "93.184.216.34"])
def test_it_lets_a_public_address_through(strict, host):
    target = netguard.resolve(host, 587)

    assert target.ip == host
    assert target.port == 587


@pytest.mark.parametrize("port", [25, 465, 587, 2525])
def test_it_allows_the_smtp_ports(strict, port):
    assert netguard.resolve("8.8.8.8", port).port == port


@pytest.mark.parametrize("port", [22, 80, 443, 6379, 8025, 0, 65536])
def test_it_refuses_other_ports(strict, port):
    with pytest.raises(netguard.HostRefused, match="port"):
        netguard.resolve("8.8.8.8", port)


def test_it_refuses_a_name_that_resolves_to_a_private_address(strict, dns):
    answers, _calls = dns
    answers["smtp.customer.example"] = [["10.0.0.5"]]

    with pytest.raises(netguard.HostRefused, match=r"10\.0\.0\.5 is a private address"):
        netguard.resolve("smtp.customer.example", 587)


def test_it_refuses_a_name_with_one_public_and_one_private_address(strict, dns):
    answers, _calls = dns
    answers["smtp.customer.example"] = [["93.184.216.34", "169.254.169.254"]]

    with pytest.raises(netguard.HostRefused, match="metadata"):
        netguard.resolve("smtp.customer.example", 587)


def test_it_refuses_a_name_for_this_machine(strict):
    # The real resolver: localhost is loopback on every system.
    with pytest.raises(netguard.HostRefused):
        netguard.resolve("localhost", 587)


def test_it_resolves_once_and_keeps_the_checked_address(strict, dns):
    # DNS rebinding: a public answer for the check, a private one for any later lookup.
    answers, calls = dns
    answers["rebind.customer.example"] = [["93.184.216.34"], ["10.0.0.5"]]

    target = netguard.resolve("rebind.customer.example", 587)

    assert target.ip == "93.184.216.34"
    assert calls == ["rebind.customer.example"]


def test_it_connects_to_the_address_that_was_checked(settings, dns):
    # Loopback allowed so that a real listener can see where the connection arrives; the name
    # then "rebinds" to another loopback address where nothing listens.
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = True
    settings.OPENESP_SMTP_SOURCE_ADDRESS = ""
    answers, calls = dns
    answers["rebind.customer.example"] = [["127.0.0.1"], ["127.0.0.2"]]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[tuple[str, int]] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[1]), daemon=True)
    thread.start()

    target = netguard.resolve("rebind.customer.example", port)
    with netguard.connect(target, timeout=5) as sock:
        assert sock.getpeername() == ("127.0.0.1", port)
    thread.join(5)
    listener.close()

    assert accepted, "the checked address received the connection"
    assert calls == ["rebind.customer.example"]


def test_it_binds_the_operator_source_address(settings):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = True
    settings.OPENESP_SMTP_SOURCE_ADDRESS = "127.0.0.1"
    listener = socket.create_server(("127.0.0.1", 0))

    target = netguard.resolve("127.0.0.1", listener.getsockname()[1])
    with netguard.connect(target, timeout=5) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
    listener.close()


def test_it_allows_loopback_when_the_operator_allows_private_hosts(settings):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True

    assert netguard.resolve("127.0.0.1", 587).ip == "127.0.0.1"
    assert netguard.resolve("10.0.0.1", 587).ip == "10.0.0.1"
    netguard.check_host_text("localhost")


@pytest.mark.parametrize("host", ["169.254.169.254", "100.100.100.200", "fd00:ec2::254", "0.0.0.0", "224.0.0.1"])
def test_it_refuses_metadata_even_when_private_hosts_are_allowed(settings, host):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True

    with pytest.raises(netguard.HostRefused):
        netguard.resolve(host, 587)


def test_it_refuses_a_name_resolving_to_metadata_when_private_hosts_are_allowed(settings, dns):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    answers, _calls = dns
    answers["metadata.customer.example"] = [["169.254.169.254"]]

    with pytest.raises(netguard.HostRefused, match="metadata"):
        netguard.resolve("metadata.customer.example", 587)


def _smtp(host: str, port: int | None = None) -> EspInput:
    return EspInput(kind="smtp", host=host, port=port, security="starttls", from_email="mail@acme.example.com")


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_it_names_the_host_field_when_validation_refuses_an_address(strict, host):
    with pytest.raises(InvalidInput) as caught:
        validate(_smtp(host))

    assert "host" in caught.value.as_dict()


def test_it_names_the_port_field_when_validation_refuses_a_port(strict):
    with pytest.raises(InvalidInput) as caught:
        validate(_smtp("smtp.acme.example.com", 8025))

    assert set(caught.value.as_dict()) == {"port"}


def test_it_accepts_a_public_host_through_validation(strict):
    clean = validate(_smtp("smtp.acme.example.com"))

    assert clean is not None
    assert (clean.host, clean.port) == ("smtp.acme.example.com", 587)


def test_a_resolver_that_hangs_is_given_up_on_after_the_dns_timeout(settings, monkeypatch):
    # getaddrinfo takes no timeout; a name whose servers never answer would hold a Test
    # connection (or a delivery worker) for the system resolver's own retries.
    settings.OPENESP_DNS_TIMEOUT = 1
    released = threading.Event()

    def hanging(*args, **kwargs):
        released.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        with pytest.raises(netguard.ResolveFailed, match="did not resolve within 1 s"):
            netguard.resolve("slow.example", 587)
    finally:
        released.set()

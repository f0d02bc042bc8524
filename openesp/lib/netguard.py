"""SSRF-safe connections to hosts that customers type in (custom SMTP servers, later webhooks).

A host is resolved once, every address it resolves to is checked, and the connection is made
to that checked address: a DNS answer that changes between the check and the connect (DNS
rebinding) cannot slip a private address through. Hosts written as numbers in any form the
C library accepts (``2130706433``, ``0x7f.1``, ``127.1``, ``::ffff:127.0.0.1``) are caught
because the check runs on the resolved address, not on the text.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

# Addresses of cloud metadata services; most are link-local already, listed so that an
# operator allowing private hosts for a lab still never reaches them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
# Carrier-grade NAT and benchmarking ranges are not "private" to Python but are not
# public Internet either.
EXTRA_BLOCKED = (ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("198.18.0.0/15"))


class HostRefused(ValueError):
    """The host or port may not be connected to. The message says why, for the user."""


@dataclass(frozen=True)
class Target:
    host: str
    ip: str
    port: int


def _unwrap(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        # NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address in the low 32 bits.
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_problem(address: str, *, allow_private: bool | None = None) -> str | None:
    """Why this IP address may not be connected to, or None when it may."""
    if allow_private is None:
        allow_private = settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS
    ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_private or any(ip in net for net in EXTRA_BLOCKED if ip.version == net.version):
        return f"{ip} is a private address"
    if ip.is_reserved or not ip.is_global:
        return f"{ip} is a reserved address"
    return None


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise HostRefused(f"{port} is not a valid port number")
    if settings.OPENESP_SMTP_ALLOW_ANY_PORT or port in settings.OPENESP_SMTP_ALLOWED_PORTS:
        return
    allowed = ", ".join(str(p) for p in settings.OPENESP_SMTP_ALLOWED_PORTS)
    raise HostRefused(f"port {port} is not allowed; use one of {allowed}")


def numeric_address(host: str) -> str | None:
    """The address a host written as a number stands for, in any form inet_aton accepts."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        # Accepts the legacy forms: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def check_host_text(host: str, *, allow_private: bool | None = None) -> None:
    """Checks that need no DNS: a host written as a refused address is refused at once.
    ``allow_private``: None follows OPENESP_ALLOW_PRIVATE_SMTP_HOSTS (webhooks pass their own)."""
    if allow_private is None:
        allow_private = settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS
    numeric = numeric_address(host)
    if numeric is not None:
        problem = address_problem(numeric, allow_private=allow_private)
        if problem:
            raise HostRefused(f"{host} is not allowed: {problem}")
        return
    name = host.rstrip(".").lower()
    names_this_machine = name in {"localhost", "localhost.localdomain"} or name.endswith(".localhost")
    if names_this_machine and not allow_private:
        raise HostRefused(f"{host} is not allowed: it names this machine")


class ResolveFailed(OSError):
    """The host name does not resolve."""


type AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]


def _getaddrinfo_within(host: str, port: int, timeout: float) -> list[AddrInfo]:
    """``getaddrinfo`` that gives up after ``timeout`` seconds.

    getaddrinfo takes no timeout, and a user-supplied name whose DNS servers never answer
    would hold the caller for the system resolver's retries. The lookup runs in a daemon
    thread of its own; one abandoned on a timeout ends when the resolver gives up.
    """
    outcome: list[list[AddrInfo] | BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)
        done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise ResolveFailed(f"{host} did not resolve within {timeout:g} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def resolve(host: str, port: int, *, allow_private: bool | None = None, smtp_port: bool = True) -> Target:
    """Resolve once, refuse if *any* address is refused, and return the first usable one.

    Refusing when any address is bad (rather than picking a good one) keeps a hostile name
    with one public and one private record from probing the private one on a later retry.
    ``allow_private`` and ``smtp_port=False`` are for other kinds of hosts (webhook URLs): their
    own setting for private addresses, and any port rather than the SMTP ports allowed.
    """
    if allow_private is None:
        allow_private = settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS
    if smtp_port:
        check_port(port)
    elif not 1 <= port <= 65535:
        raise HostRefused(f"{port} is not a valid port number")
    check_host_text(host, allow_private=allow_private)
    numeric = numeric_address(host)
    if numeric is not None:
        return Target(host=host, ip=numeric, port=port)
    try:
        infos = _getaddrinfo_within(host, port, settings.OPENESP_DNS_TIMEOUT)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveFailed(f"{host} does not resolve: {getattr(exc, 'strerror', None) or exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ResolveFailed(f"{host} does not resolve to any address")
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            raise HostRefused(f"{host} is not allowed: it resolves to {problem}")
    # Prefer IPv4 when the source address to bind to is IPv4 (and vice versa).
    source = settings.OPENESP_SMTP_SOURCE_ADDRESS
    if source:
        want_v6 = ":" in source
        same_family = [a for a in addresses if (":" in a) == want_v6]
        if not same_family:
            raise HostRefused(f"{host} has no address of the same family as the source address {source}")
        addresses = same_family
    return Target(host=host, ip=addresses[0], port=port)


def connect(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to the checked address, bound to the operator's source address."""
    source = settings.OPENESP_SMTP_SOURCE_ADDRESS
    family = socket.AF_INET6 if ":" in target.ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        sock.connect((target.ip, target.port))
    except BaseException:
        sock.close()
        raise
    return sock

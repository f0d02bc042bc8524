"""The address of the client behind a request, for the limits that count per client.

The socket's peer (``REMOTE_ADDR``) is the client unless it is one of the reverse proxies named
in ``OPENESP_TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from the right, skipping the
trusted proxies, and the first address that is not one of them is the client. Anything left of
it was written by the client itself and is ignored, so a client cannot choose its own address by
sending the header; without trusted proxies the header is never read at all.

Limits count an IPv6 client by its /64: one subscriber line usually holds a whole /64, so counting
single addresses would give an attacker 2^64 fresh tries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

from openesp.lib.env import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(request: HttpRequest) -> str:
    """The client's IP address as text ("" when the socket gave none)."""
    peer = _address(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None:
        return ""
    proxies: list[Network] = settings.OPENESP_TRUSTED_PROXIES
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    hops = ",".join(request.headers.get("X-Forwarded-For", "").split("\n")).split(",")
    client = peer
    for hop in reversed([h for h in hops if h.strip()]):
        address = _address(hop)
        if address is None:
            break  # garbage the trusted proxy passed on: the last address we can vouch for stands
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


def limit_address(address: str) -> str:
    """What a per-client limit counts: the address itself, or the /64 of an IPv6 address."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else "unknown"

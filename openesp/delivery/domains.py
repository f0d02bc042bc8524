"""DKIM keys of sending domains: adding them, verifying a domain by its published key, and
finding the signers for a From domain. The domains and the sender rules are in
``openesp.messaging.senders``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dns.exception
import dns.resolver
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openesp.delivery.dkim import DkimKey, generate_private_key
from openesp.delivery.models import DkimKeyRecord
from openesp.lib import secretbox
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import SendingDomain

_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


def _resolver() -> dns.resolver.Resolver:
    if not settings.OPENESP_DNS_SERVERS:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = []
    for server in settings.OPENESP_DNS_SERVERS:
        host, _sep, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers.append(host or server)
        if port:
            resolver.nameserver_ports[host] = int(port)
    return resolver


def _txt_records(name: str) -> list[str]:
    try:
        answer = _resolver().resolve(name, "TXT", lifetime=settings.OPENESP_DNS_TIMEOUT)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer]


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def verify_domain(domain: SendingDomain) -> tuple[bool, str]:
    """Look up the DKIM records of the domain's active keys; verified when one matches ours.

    Returns whether the domain is verified now, and what was found, for the person who asked.
    """
    found: list[str] = []
    for record in domain.dkim_keys.filter(active=True).order_by("created_at"):
        name = f"{record.selector}._domainkey.{domain.domain}"
        expected = _tags(DkimKey.from_pem(domain.domain, record.selector, record.private_pem()).dns_record())
        try:
            published = [_tags(txt) for txt in _txt_records(name)]
        except dns.exception.DNSException as exc:
            found.append(f"{name}: the DNS lookup failed ({type(exc).__name__})")
            continue
        if any(tags.get("p") == expected["p"] for tags in published):
            if domain.verified_at is None:
                domain.verified_at = timezone.now()
                domain.save(update_fields=["verified_at"])
            return True, f"{name} holds the DKIM key: {domain.domain} is verified"
        found.append(f"{name}: " + ("a different key is published" if published else "no TXT record found"))
    if not found:
        return False, f"{domain.domain} has no active DKIM key to look for"
    return False, "; ".join(found)


def add_dkim_key(
    sending_domain: SendingDomain, *, algorithm: str = "rsa", selector: str = ""
) -> tuple[DkimKeyRecord, DkimKey]:
    if algorithm not in DkimKeyRecord.Algorithm.values:
        raise InvalidInput.one("algorithm", "must be rsa or ed25519")
    # A dated selector lets a new key be published beside the old one during rotation.
    selector = (selector or f"oe{datetime.now(UTC):%Y%m}{'e' if algorithm == 'ed25519' else 'r'}").lower()
    if not _SELECTOR.match(selector):
        raise InvalidInput.one("selector", "use letters, digits and hyphens (at most 63)")
    pem = generate_private_key(algorithm)
    with transaction.atomic():
        if DkimKeyRecord.objects.filter(domain=sending_domain, selector=selector).exists():
            raise InvalidInput.one("selector", f"{selector} is in use for {sending_domain.domain} already")
        record = DkimKeyRecord.objects.create(
            domain=sending_domain,
            selector=selector,
            algorithm=algorithm,
            private_key_encrypted=secretbox.encrypt(pem.decode()),
        )
    return record, DkimKey.from_pem(sending_domain.domain, selector, pem)


def signers_for(from_email: str, workspace_id: int | None) -> list[DkimKey]:
    """Active keys for the From address's domain: the workspace's own domain if it has one,
    else the operator's. Every active key signs (RSA and Ed25519 side by side, RFC 8463)."""
    domain = from_email.rpartition("@")[2].lower()
    candidates = SendingDomain.objects.filter(domain=domain)
    chosen = (
        candidates.filter(workspace_id=workspace_id).first() if workspace_id is not None else None
    ) or candidates.filter(workspace__isnull=True).first()
    if chosen is None:
        return []
    return [
        DkimKey.from_pem(domain, key.selector, key.private_pem())
        for key in chosen.dkim_keys.filter(active=True).order_by("algorithm", "created_at")
    ]

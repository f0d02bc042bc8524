"""A sending domain's health: the DNS records mail from it needs, and what DNS holds now.

Four checks, each ``{"ok", "expected", "found"}`` (``expected`` the record to publish, zone-file
style; ``found`` what the lookup answered, in the same style):

- **SPF** (TXT at the domain): one ``v=spf1`` record naming what carries the mail: the
  operator's egress IPs (``OPENESP_EGRESS_IPS``) and the include of each standard provider the
  operator runs;
- **DKIM** (TXT at ``<selector>._domainkey``): one of the domain's active keys published
  (``domains.verify_domain`` does the same lookup to verify the domain);
- **DMARC** (TXT at ``_dmarc``): a ``v=DMARC1`` record with a policy;
- **return path**: the operator's bounce domain (``OPENESP_BOUNCE_DOMAIN``) has an MX record,
  so bounces come back to openesp.

Looked up with dnspython through the resolver domain verification uses (``OPENESP_DNS_SERVERS``).
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.resolver
from django.conf import settings

from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import _resolver, _tags, _txt_records
from openesp.esp.operator import standard_providers
from openesp.messaging.models import SendingDomain

# The SPF include each standard provider documents, by the host it is known by.
SPF_INCLUDES = {"sendgrid.net": "sendgrid.net", "mailjet.com": "spf.mailjet.com"}
DMARC_SUGGESTED = "v=DMARC1; p=none"

Check = dict[str, Any]


def _check(ok: bool, expected: str, found: list[str]) -> Check:
    return {"ok": ok, "expected": expected, "found": found}


def _txt(name: str) -> list[str] | str:
    """The TXT values at ``name``, or why the lookup failed."""
    try:
        return _txt_records(name)
    except dns.exception.DNSException as exc:
        return f"the DNS lookup of {name} failed ({type(exc).__name__})"


def spf_mechanisms() -> list[str]:
    ips = [f"ip6:{ip}" if ":" in ip else f"ip4:{ip}" for ip in settings.OPENESP_EGRESS_IPS]
    includes = [
        f"include:{SPF_INCLUDES.get(p.provider_host, p.provider_host)}"
        for p in standard_providers().values()
        if p.available and p.provider_host
    ]
    return ips + includes


def check_spf(domain: str) -> Check:
    wanted = spf_mechanisms()
    expected = f"{domain} TXT " + " ".join(["v=spf1", *wanted, "~all"])
    found = _txt(domain)
    if isinstance(found, str):
        return _check(False, expected, [found])
    records = [r for r in found if r.lower().startswith("v=spf1")]
    lines = [f"{domain} TXT {r}" for r in records]
    if len(records) != 1:  # none, or several (which RFC 7208 makes a permanent error)
        return _check(False, expected, lines)
    terms = {t.lower() for t in records[0].split()}
    return _check(all(w.lower() in terms for w in wanted), expected, lines)


def check_dkim(domain: SendingDomain) -> Check:
    keys = list(domain.dkim_keys.filter(active=True).order_by("created_at"))
    if not keys:
        return _check(False, "", [f"{domain.domain} has no active DKIM key"])
    expected_lines, found_lines, ok = [], [], False
    for record in keys:
        name = f"{record.selector}._domainkey.{domain.domain}"
        value = DkimKey.from_pem(domain.domain, record.selector, record.private_pem()).dns_record()
        expected_lines.append(f"{name} TXT {value}")
        found = _txt(name)
        if isinstance(found, str):
            found_lines.append(found)
            continue
        found_lines += [f"{name} TXT {r}" for r in found]
        ok = ok or any(_tags(r).get("p") == _tags(value)["p"] for r in found)
    return _check(ok, "\n".join(expected_lines), found_lines)


def check_dmarc(domain: str) -> Check:
    name = f"_dmarc.{domain}"
    expected = f"{name} TXT {DMARC_SUGGESTED}"
    found = _txt(name)
    if isinstance(found, str):
        return _check(False, expected, [found])
    records = [r for r in found if r.replace(" ", "").lower().startswith("v=dmarc1")]
    ok = len(records) == 1 and "p" in _tags(records[0])
    return _check(ok, expected, [f"{name} TXT {r}" for r in records])


def check_return_path() -> Check:
    bounce = str(getattr(settings, "OPENESP_BOUNCE_DOMAIN", "") or "")
    if not bounce:
        return _check(False, "", ["the operator has set no bounce domain (OPENESP_BOUNCE_DOMAIN)"])
    expected = f"{bounce} MX 10 <the host of openesp's inbound SMTP server>"
    try:
        answer = _resolver().resolve(bounce, "MX", lifetime=settings.OPENESP_DNS_TIMEOUT)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return _check(False, expected, [])
    except dns.exception.DNSException as exc:
        return _check(False, expected, [f"the DNS lookup of {bounce} failed ({type(exc).__name__})"])
    found = [f"{bounce} MX {r.preference} {r.exchange.to_text().rstrip('.')}" for r in answer]
    return _check(bool(found), expected, found)


def domain_health(domain: SendingDomain) -> dict[str, Check]:
    return {
        "spf": check_spf(domain.domain),
        "dkim": check_dkim(domain),
        "dmarc": check_dmarc(domain.domain),
        "return_path": check_return_path(),
    }

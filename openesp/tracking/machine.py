"""Human or machine: which opens and clicks a person made.

Counted as machine (with the reason kept on the event):
- Apple Mail Privacy Protection: Apple's proxies fetch every image of every message as it
  arrives, from Apple's 17.0.0.0/8 network, with the bare user agent ``Mozilla/5.0``;
- known scanners and prefetchers (security gateways, link checkers, HTTP libraries, headless
  browsers), by their user agent, and requests with no user agent at all;
- clicks within ``MACHINE_CLICK_SECONDS`` of the message being sent: no person reads that fast,
  a gateway scanning the links on arrival does;
- a click on the hidden trap link, which no person can see.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta

MACHINE_CLICK_SECONDS = 5
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
_SCANNERS = re.compile(
    r"bot\b|crawler|spider|scanner|preview|prefetch|headless|phantomjs|python-requests|python-urllib|aiohttp|"
    r"go-http-client|curl/|wget/|libwww|java/|okhttp|barracuda|mimecast|proofpoint|safelinks|symantec|"
    r"messagelabs|trend ?micro|forcepoint|fortinet|cisco|ironport|sophos|linkchecker|appengine-google|"
    r"ms office protocol discovery|microsoft office existence discovery|outlook-safelinks",
    re.IGNORECASE,
)


def machine_reason(
    *, user_agent: str, ip: str, sent_at: datetime | None, at: datetime, is_click: bool, trap: bool = False
) -> str:
    """Why this open or click was a machine's, or "" for a person's."""
    if trap:
        return "hidden link"
    agent = user_agent.strip()
    if not agent:
        return "no user agent"
    if agent == "Mozilla/5.0" or _apple(ip):
        return "Apple Mail Privacy Protection"
    if _SCANNERS.search(agent):
        return "scanner or prefetch"
    if is_click and sent_at is not None and at - sent_at < timedelta(seconds=MACHINE_CLICK_SECONDS):
        return "clicked within seconds of delivery"
    return ""


def _apple(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in APPLE_NETWORK
    except ValueError:
        return False

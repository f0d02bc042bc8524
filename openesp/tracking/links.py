"""Tracked HTML: links rewritten to ``/t/c/<token>``, an open pixel ``/t/o/<token>.gif``, and a
hidden trap link that only machines follow.

The target of a click link is inside its signed token (``lib.signing``), so the click route
redirects only where a message of ours pointed: no open redirect. Unsubscribe, preference and
subscription-confirmation links of openesp are never rewritten (they must work as they are,
and a scanner following one must not be counted), nor are ``mailto:``, ``tel:`` and anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cache

from django.conf import settings
from django.urls import reverse

from openesp.lib import signing
from openesp.lib.linksign import purpose_key
from openesp.tracking import rewrite
from openesp.tracking.rewrite import TRAP as TRAP
from openesp.tracking.rewrite import Tracker

OPEN_PURPOSE = "track-open"
CLICK_PURPOSE = "track-click"
MAX_PAYLOAD = 4096  # base64 of a message id, a link index and a URL of up to ~3,000 characters


@dataclass(frozen=True)
class Click:
    message_id: int
    index: int  # the link's place in the message; TRAP for the hidden link
    url: str


@cache
def _kept_prefixes(base: str) -> tuple[str, ...]:
    """The links of openesp's own that are never rewritten (unsubscribe, preferences, confirm)."""
    return tuple(
        base + reverse(name, args=["0"]).removesuffix("0/")
        for name in ("unsubscribe", "preferences", "confirm-subscription")
    )


def _tracking_base() -> str:
    return settings.OPENESP_TRACKING_BASE_URL


def open_url(message_id: int) -> str:
    return tracker().open_url(message_id)


def click_url(message_id: int, index: int, url: str) -> str:
    return tracker().click_url(message_id, index, url)


def read_open(token: str) -> int | None:
    """The message id of an open token, or None when it is not one of ours."""
    try:
        link = signing.read(token, max_payload=32)
    except signing.BadLink:
        return None
    if not link.valid(OPEN_PURPOSE) or not link.text.isdigit():
        return None
    return int(link.text)


def read_click(token: str) -> Click | None:
    try:
        link = signing.read(token, max_payload=MAX_PAYLOAD)
    except signing.BadLink:
        return None
    if not link.valid(CLICK_PURPOSE):
        return None
    message_id, _sep, rest = link.text.partition("|")
    index, _sep, url = rest.partition("|")
    if not message_id.isdigit() or not index.lstrip("-").isdigit():
        return None
    return Click(int(message_id), int(index), url)


def tracker() -> Tracker:
    """This site's ``Tracker`` (URLs and signing keys), for ``rewrite.tracked_html`` here or in a
    build process."""
    return _tracker(_tracking_base(), settings.OPENESP_BASE_URL, settings.SECRET_KEY)


@cache
def _tracker(base: str, site: str, secret: str) -> Tracker:
    return Tracker(base, _kept_prefixes(site), purpose_key(secret, OPEN_PURPOSE), purpose_key(secret, CLICK_PURPOSE))


def tracked_html(html: str, message_id: int, *, opens: bool, clicks: bool) -> str:
    """``html`` with its links rewritten (``clicks``) and the open pixel added (``opens``)."""
    return rewrite.tracked_html(html, message_id, opens=opens, clicks=clicks, tracker=tracker())


def tracked_mime(raw: bytes, message_id: int, *, opens: bool, clicks: bool) -> bytes:
    """A whole message (mail that came in over SMTP) with its HTML parts tracked as
    ``tracked_html`` tracks a body; ``raw`` itself when it has no HTML part. A tracked part is
    re-encoded (quoted-printable, or base64 as it was) and the message serialized again: the
    sender asked for tracking, which cannot leave the bytes as they came. Attachments that
    happen to be HTML are left alone."""
    if not (opens or clicks):
        return raw
    parsed = BytesParser(policy=policy.SMTPUTF8).parsebytes(raw)
    changed = False
    for part in parsed.walk():
        if part.get_content_type() != "text/html" or part.is_attachment():
            continue
        assert isinstance(part, EmailMessage)
        try:
            html = part.get_content()
        except (LookupError, ValueError):  # an unknown charset or a broken encoding: sent untracked
            continue
        tracked = tracked_html(html, message_id, opens=opens, clicks=clicks)
        if tracked != html:
            encoding = "base64" if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64" else None
            part.set_content(tracked, subtype="html", charset="utf-8", cte=encoding or "quoted-printable")
            changed = True
    return parsed.as_bytes(policy=policy.SMTPUTF8) if changed else raw

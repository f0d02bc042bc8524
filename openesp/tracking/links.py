"""Tracked HTML: links rewritten to ``/t/c/<token>``, an open pixel ``/t/o/<token>.gif``, and a
hidden trap link that only machines follow.

The target of a click link is inside its signed token (``lib.signing``), so the click route
redirects only where a message of ours pointed: no open redirect. Unsubscribe, preference and
subscription-confirmation links of openesp are never rewritten (they must work as they are,
and a scanner following one must not be counted), nor are ``mailto:``, ``tel:`` and anchors.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cache

from django.conf import settings
from django.urls import reverse

from openesp.lib import signing

OPEN_PURPOSE = "track-open"
CLICK_PURPOSE = "track-click"
MAX_PAYLOAD = 4096  # base64 of a message id, a link index and a URL of up to ~3,000 characters
TRAP = -1  # the link index of the hidden trap link
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


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
    return f"{_tracking_base()}/t/o/{signing.sign(str(message_id), OPEN_PURPOSE)}.gif"


def click_url(message_id: int, index: int, url: str) -> str:
    return f"{_tracking_base()}/t/c/{signing.sign(f'{message_id}|{index}|{url}', CLICK_PURPOSE)}"


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


def _trackable(url: str) -> bool:
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False  # mailto:, tel:, #anchors, template leftovers
    return not url.strip().startswith(_kept_prefixes(settings.OPENESP_BASE_URL))


def tracked_html(html: str, message_id: int, *, opens: bool, clicks: bool) -> str:
    """``html`` with its links rewritten (``clicks``) and the open pixel added (``opens``)."""
    if not html:
        return html
    if clicks:
        counter = iter(range(1_000_000))

        def rewrite(match: re.Match[str]) -> str:
            raw = match.group(3)
            url = htmllib.unescape(raw).strip()
            if not _trackable(url):
                return match.group(0)
            tracked = htmllib.escape(click_url(message_id, next(counter), url), quote=True)
            return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

        html = _HREF.sub(rewrite, html)
        # A link no person sees: a scanner that follows every link follows this one too.
        trap = htmllib.escape(click_url(message_id, TRAP, ""), quote=True)
        html = _insert_after_body_open(
            html,
            f'<a href="{trap}" style="display:none;font-size:0;max-height:0" aria-hidden="true" tabindex="-1"></a>',
        )
    if opens:
        pixel = htmllib.escape(open_url(message_id), quote=True)
        html = _insert_before_body_close(
            html, f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
        )
    return html


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


def _insert_after_body_open(html: str, snippet: str) -> str:
    match = _BODY_OPEN.search(html)
    return html[: match.end()] + snippet + html[match.end() :] if match else snippet + html


def _insert_before_body_close(html: str, snippet: str) -> str:
    matches = list(_BODY_CLOSE.finditer(html))
    if not matches:
        return html + snippet
    at = matches[-1].start()
    return html[:at] + snippet + html[at:]

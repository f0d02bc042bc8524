"""Tracking an HTML body, free of Django: ``tracking.links`` does it in the worker's process (for
API providers and relayed mail), the delivery worker's build processes with the ``Tracker`` the
worker hands them (its URLs and the two purposes' signing keys, not the site's secret)."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass

from openesp.lib.linksign import sign_with

TRAP = -1  # the link index of the hidden trap link
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracker:
    base: str  # OPENESP_TRACKING_BASE_URL
    kept: tuple[str, ...]  # openesp's own links, never rewritten (unsubscribe, preferences, confirm)
    open_key: bytes  # lib.linksign.purpose_key of the open and the click purposes
    click_key: bytes

    def open_url(self, message_id: int) -> str:
        return f"{self.base}/t/o/{sign_with(self.open_key, str(message_id))}.gif"

    def click_url(self, message_id: int, index: int, url: str) -> str:
        return f"{self.base}/t/c/{sign_with(self.click_key, f'{message_id}|{index}|{url}')}"

    def trackable(self, url: str) -> bool:
        lowered = url.strip().lower()
        if not lowered.startswith(("http://", "https://")):
            return False  # mailto:, tel:, #anchors, template leftovers
        return not url.strip().startswith(self.kept)


def tracked_html(html: str, message_id: int, *, opens: bool, clicks: bool, tracker: Tracker) -> str:
    """``html`` with its links rewritten (``clicks``) and the open pixel added (``opens``)."""
    if not html:
        return html
    if clicks:
        counter = iter(range(1_000_000))

        def rewrite(match: re.Match[str]) -> str:
            raw = match.group(3)
            url = htmllib.unescape(raw).strip()
            if not tracker.trackable(url):
                return match.group(0)
            tracked = htmllib.escape(tracker.click_url(message_id, next(counter), url), quote=True)
            return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

        html = _HREF.sub(rewrite, html)
        # A link no person sees: a scanner that follows every link follows this one too.
        trap = htmllib.escape(tracker.click_url(message_id, TRAP, ""), quote=True)
        html = _insert_after_body_open(
            html,
            f'<a href="{trap}" style="display:none;font-size:0;max-height:0" aria-hidden="true" tabindex="-1"></a>',
        )
    if opens:
        pixel = htmllib.escape(tracker.open_url(message_id), quote=True)
        html = _insert_before_body_close(
            html, f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
        )
    return html


def _insert_after_body_open(html: str, snippet: str) -> str:
    match = _BODY_OPEN.search(html)
    return html[: match.end()] + snippet + html[match.end() :] if match else snippet + html


def _insert_before_body_close(html: str, snippet: str) -> str:
    at = _last_body_close(html)
    return html + snippet if at is None else html[:at] + snippet + html[at:]


def _last_body_close(html: str) -> int | None:
    """Where the last ``</body>`` (any case, blanks before its ">") starts. Usually it is the
    "</body" that ``rfind`` finds from the end at once: only the text from there on is then
    searched (a later one in other letters would be there), not the whole message."""
    usual = html.rfind("</body")
    tail = list(_BODY_CLOSE.finditer(html, usual)) if usual >= 0 else []
    matches = tail or list(_BODY_CLOSE.finditer(html))
    return matches[-1].start() if matches else None

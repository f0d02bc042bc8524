"""Plain text from HTML, for the text/plain part of HTML-only mail.

A small ``html.parser`` walk: block elements become line breaks, links keep their URL,
scripts and styles are dropped. Mail HTML is simple enough that this reads well.

Campaigns derive the text part of every recipient's message from its rendered HTML, so this
runs for every message sent. ``html.parser`` costs ~0.5 ms for 8 KB of mail HTML (most of it per
tag and attribute); HTML made only of plain tags, attributes and text (what templates and
css-inline produce) is read here instead (``_plain_text``): cut at each "<", each tag read by
one regular expression and kept (a campaign's tags are the same for every recipient), the
handlers' work done inline: half the instructions of the regular-expression walk it
replaced, four to six times faster than ``html.parser``. Anything else (comments, doctypes,
``<script>``, ``<style>``, a ``<`` that starts no plain tag, a ``>`` inside an attribute value)
goes through ``html.parser`` as before; ``tests/test_htmltext.py`` checks that both give the same
text.
"""

from __future__ import annotations

import functools
import re
from html import unescape
from html.parser import HTMLParser

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr"}
_SKIP = {"script", "style", "head", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.out.append("\n")
            if tag == "li":
                self.out.append("- ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.out.append("\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and href.startswith(("http://", "https://", "mailto:")):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(_collapse(data))


def _collapse(data: str) -> str:
    """Each run of white space as one space: ``re.sub(r"\\s+", " ", data)`` (the same white
    space, ``str.isspace``), ten times faster on paragraphs. Campaigns derive the text part of
    every recipient's mail with this, so it runs for every message sent."""
    if data.isprintable() and "  " not in data:
        # Nothing to collapse: str.isprintable is False for every white space but " " (all of
        # str.isspace's are control or separator characters), found in half the time of split.
        return data
    words = data.split()
    if not words:
        return " " if data else ""
    text = " ".join(words)
    if data[0].isspace():
        text = " " + text
    if data[-1].isspace():
        text += " "
    return text


_NAME = r"[a-zA-Z_:][-a-zA-Z0-9_:.]*"
_VALUE = r"""(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`]+)"""
_ATTRIBUTE = re.compile(rf"\s+({_NAME})(?:\s*=\s*({_VALUE}))?")
# Elements whose content is read as text up to their end tag; comments, doctypes and processing
# instructions ("<!", "<?") are not plain tags either.
_RAW = frozenset({"script", "style"})


def _attribute_value(raw: str) -> str | None:
    # As html.parser: None without a value, quotes removed, character references resolved.
    if not raw:
        return None
    if raw[:1] in "\"'":
        raw = raw[1:-1]
    return unescape(raw)


# A plain tag, what follows its "<" up to its ">": closing slash, name, attributes, self-closing slash.
_TAG = re.compile(rf"(/)?([a-zA-Z][a-zA-Z0-9]*)((?:\s+{_NAME}(?:\s*=\s*{_VALUE})?)*)\s*(/)?")
# What ``_plain_text`` needs of a tag: closing, the name in lower case, a link's href, self-closing.
_Tag = tuple[bool, str, str | None, bool]
_TAG_CACHE_LENGTH = 300  # longer tags are read every time, so the cache stays small


def _tag(inner: str) -> _Tag | None:
    """What the tag ``<inner>`` means, None when it is not a plain tag (or is ``<script>`` or
    ``<style>``, whose content html.parser reads as text)."""
    return _tag_cached(inner) if len(inner) <= _TAG_CACHE_LENGTH else _read_tag(inner)


def _read_tag(inner: str) -> _Tag | None:
    tag = _TAG.fullmatch(inner)
    if tag is None:
        return None
    closing, name, attributes, self_closing = tag.groups()
    name = name.lower()
    if closing:
        return (True, name, None, False) if not attributes and not self_closing else None
    if name in _RAW:
        return None
    href = None
    if name == "a":  # only a link's attributes are read: css-inline puts a style on every tag
        for key, value in _ATTRIBUTE.findall(attributes):
            if key.lower() == "href":  # the last one, as _Text's dict(attrs).get("href")
                href = _attribute_value(value)
    return (False, name, href, bool(self_closing))


_tag_cached = functools.lru_cache(maxsize=1024)(_read_tag)


def _plain_text(html: str) -> list[str] | None:
    """The pieces of text ``_Text`` would make of ``html``, for HTML of plain tags and text
    only; None for anything else. ``_Text``'s handlers are inlined here and the document is cut
    at each "<" by ``str.split``: every piece but the first must start with a plain tag, which
    ends at its first ">" (no part of a plain tag may hold one), and the rest of it is text.
    Scanning the text for the tags with a regular expression cost as much as all the rest, and
    matching each tag's attributes as much again: a campaign's tags are the same in every
    recipient's message, so what a tag means is kept (``_tag``)."""
    pieces = html.split("<")
    out: list[str] = []
    skip = 0
    hrefs: list[str | None] = []
    text = pieces[0]
    for at in range(1, len(pieces) + 1):
        if text and not skip:
            out.append(_data(text))
        if at == len(pieces):
            break
        piece = pieces[at]
        end = piece.find(">")
        tag = _tag(piece[:end]) if end >= 0 else None
        if tag is None:  # a "<" that starts no plain tag
            return None
        text = piece[end + 1 :]
        closing, name, href, self_closing = tag
        if not closing:
            if name in _SKIP:
                skip += 1
            elif name in _BLOCK:
                out.append("\n- " if name == "li" else "\n")
            elif name == "a":
                hrefs.append(href)
            if not self_closing:
                continue
        # The end of a closing tag, or of a self-closing one (``handle_startendtag``).
        if name in _SKIP:
            skip = max(0, skip - 1)
        elif name in _BLOCK:
            out.append("\n")
        elif name == "a" and hrefs:
            href = hrefs.pop()
            if href and href.startswith(("http://", "https://", "mailto:")):
                out.append(f" ({href})")
    return out


# A campaign's recipients share most of their text (only a name or a link differs), and a build
# process derives thousands of their text parts: the pieces' unescaped, collapsed text is kept,
# for short pieces only, so the cache stays a few MB whatever the mail holds.
_DATA_CACHE_LENGTH = 2_000


@functools.lru_cache(maxsize=512)
def _data_cached(text: str) -> str:
    return _collapse(unescape(text) if "&" in text else text)


def _data(text: str) -> str:
    """What ``_Text.handle_data`` appends for ``text`` as it stands in the HTML."""
    if len(text) <= _DATA_CACHE_LENGTH:
        return _data_cached(text)
    return _collapse(unescape(text) if "&" in text else text)


def html_to_text(html: str) -> str:
    out = _plain_text(html)
    if out is None:
        parser = _Text()
        parser.feed(html)
        parser.close()
        out = parser.out
    # The lines stripped, each run of empty lines between two others made one, none at either
    # end: what joining them and replacing three or more line breaks by two, then stripping the
    # whole, gave (the regular expression scanned the whole text for them).
    lines: list[str] = []
    gap = False
    for line in "".join(out).splitlines():
        line = line.strip()
        if not line:
            gap = bool(lines)
            continue
        if gap:
            lines.append("")
            gap = False
        lines.append(line)
    return "\n".join(lines) + "\n"

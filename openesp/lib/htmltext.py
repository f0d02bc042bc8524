"""Plain text from HTML, for the text/plain part of HTML-only mail.

A small ``html.parser`` walk: block elements become line breaks, links keep their URL,
scripts and styles are dropped. Mail HTML is simple enough that this reads well.

Campaigns derive the text part of every recipient's message from its rendered HTML, so this
runs for every message sent. ``html.parser`` costs ~0.5 ms for 8 KB of mail HTML (most of it per
tag and attribute); HTML made only of plain tags, attributes and text (what templates and
css-inline produce) is tokenised here with two regular expressions instead, about five times
faster, feeding the same handlers in the same order. Anything else (comments, doctypes,
``<script>``, ``<style>``, a ``<`` that starts no plain tag, a ``>`` inside an attribute value)
goes through ``html.parser`` as before; ``tests/test_htmltext.py`` checks that both give the same
text.
"""

from __future__ import annotations

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
_PLAIN_TAG = re.compile(rf"<(/)?([a-zA-Z][a-zA-Z0-9]*)((?:\s+{_NAME}(?:\s*=\s*{_VALUE})?)*)\s*(/)?>")
_ATTRIBUTE = re.compile(rf"\s+({_NAME})(?:\s*=\s*({_VALUE}))?")
_NOT_PLAIN = re.compile(r"<[!?]|<(?:script|style)\b", re.IGNORECASE)


def _attribute_value(raw: str) -> str | None:
    # As html.parser: None without a value, quotes removed, character references resolved.
    if not raw:
        return None
    if raw[:1] in "\"'":
        raw = raw[1:-1]
    return unescape(raw)


def _walk_plain(html: str, parser: _Text) -> bool:
    """Feed ``parser`` what ``html.parser`` would, for HTML of plain tags and text only; False
    (with ``parser`` partly fed) for anything else."""
    if _NOT_PLAIN.search(html):
        return False
    position = 0
    for tag in _PLAIN_TAG.finditer(html):
        text = html[position : tag.start()]
        if "<" in text:  # a "<" that starts no plain tag
            return False
        if text:
            parser.handle_data(unescape(text))
        closing, name, attributes, self_closing = tag.groups()
        name = name.lower()
        if closing:
            if attributes or self_closing:
                return False
            parser.handle_endtag(name)
        else:
            # Only a link's attributes are read (its href): css-inline puts a style on every tag.
            found = (
                [(key.lower(), _attribute_value(value)) for key, value in _ATTRIBUTE.findall(attributes)]
                if name == "a"
                else []
            )
            parser.handle_starttag(name, found)
            if self_closing:
                parser.handle_endtag(name)
        position = tag.end()
    rest = html[position:]
    if "<" in rest:
        return False
    if rest:
        parser.handle_data(unescape(rest))
    return True


# Three or more line breaks. Spelt out, not ``\n{3,}``: with a counted repeat first, ``re`` tries
# the pattern at every position of the text (79 µs for 7 KB of campaign text here, against 3).
_BLANK_LINES = re.compile(r"\n\n\n+")


def html_to_text(html: str) -> str:
    parser = _Text()
    if not _walk_plain(html, parser):
        parser = _Text()
        parser.feed(html)
        parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"

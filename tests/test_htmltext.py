"""html_to_text: its fast path for plain HTML gives exactly what html.parser gives."""

from __future__ import annotations

import random
import re

from openesp.lib.htmltext import _plain_text, _Text, html_to_text

TAGS = ["p", "P", "div", "br", "a", "A", "span", "b", "li", "ul", "h1", "td", "tr", "table", "head", "title", "html"]
TEXT = ["Hello", "  ", "\n", "\t", "world", "&amp;", "&lt;b&gt;", "caf\u00e9", "\u00a0", "&#39;", "&nbsp;", "x>y"]
TEXT += ["A & B"]
ATTRIBUTES = [
    'href="https://example.com/r/a.b/"', "href='https://example.com/?a=1&amp;b=2'", "href=https://example.com/x",
    'href=""', "href", 'HREF="mailto:a@example.com"', 'style="color: #222;margin: 0"', "class=x", 'title="a &quot; b"',
    'data-href="https://evil.example/"', 'href="/relative"', 'href = "https://spaced.example/"',
]  # fmt: skip
BROKEN = ["<!-- c -->", "<!DOCTYPE html>", "<script>a<b</script>", "<style>p{}</style>", "a < b", "<a href='>'>",
          "</p class=x>", "<1>", "<?xml?>", "<a href=x/>", "</ p>", "<br/>", "<p/>"]  # fmt: skip


def _reference(html: str) -> str:
    """html_to_text through html.parser alone."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _tag(rng: random.Random) -> str:
    name = rng.choice(TAGS)
    if rng.random() < 0.4:
        return f"</{name}{rng.choice(['', ' '])}>"
    attributes = "".join(" " + rng.choice(ATTRIBUTES) for _ in range(rng.randint(0, 3)))
    return f"<{name}{attributes}{rng.choice(['', ' ', '/', ' /'])}>"


def _document(rng: random.Random, broken: bool) -> str:
    pieces = [rng.choice(TEXT) if rng.random() < 0.5 else _tag(rng) for _ in range(rng.randint(0, 40))]
    if broken:
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(BROKEN))
    return "".join(pieces)


def test_the_fast_path_gives_what_html_parser_gives():
    rng = random.Random(20261205)
    plain = 0
    for n in range(4000):
        html = _document(rng, broken=n % 4 == 0)
        plain += _plain_text(html) is not None
        assert html_to_text(html) == _reference(html), html
    assert plain > 2000  # most documents took the fast path


def test_it_reads_mail_html():
    html = (
        "<html><head><title>T</title></head><body style=\"color: #222;\"><p>Dear Ann &amp; Bob,</p>"
        "<p>Please <a href='https://example.com/r/x.y/' style=\"color: red\">answer</a>.</p><ul><li>one</li></ul>"
        "<p>Bye<br/>Acme</p></body></html>"
    )
    assert _plain_text(html) is not None
    assert html_to_text(html) == (
        "Dear Ann & Bob,\n\nPlease answer (https://example.com/r/x.y/).\n\n- one\n\nBye\n\nAcme\n"
    )
    assert html_to_text(html) == _reference(html)


def test_no_white_space_but_the_space_is_printable():
    # _collapse returns printable text without double spaces as it is: that is only right while
    # str.isprintable is False for every other character str.split() splits on.
    assert [hex(c) for c in range(0x110000) if chr(c).isspace() and chr(c).isprintable() and c != 0x20] == []

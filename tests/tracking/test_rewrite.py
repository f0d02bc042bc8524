"""tracking.rewrite: where the open pixel goes, found without scanning the whole message."""

from __future__ import annotations

import random

import pytest

from openesp.tracking.rewrite import _BODY_CLOSE, _last_body_close


def _reference(html: str) -> int | None:
    matches = list(_BODY_CLOSE.finditer(html))
    return matches[-1].start() if matches else None


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>x</p></body></html>",
        "<p>no body at all</p>",
        "<body>a</body >b</BODY>",  # a later one in capitals
        "<body>a</BODY>b</body>",
        "<body>a</body>b</bodyx>",  # the last "</body" is not a close: the one before it is
        "<body>a</body\n\t>",
        "</bodyx></bodyy>",
        "",
    ],
)
def test_the_last_body_close_is_found_as_a_whole_scan_finds_it(html):
    assert _last_body_close(html) == _reference(html)


def test_random_documents():
    rng = random.Random(1999)
    pieces = ["</body>", "</BODY>", "</Body >", "</body", "</bodyx>", "<p>", "x", " ", "</body\n>", ">"]
    for _ in range(5000):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert _last_body_close(html) == _reference(html), html

"""lib.addresses.normalized_address answers exactly as email_validator does, for every input:
plain addresses by its own checks, the rest by email_validator itself."""

from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from openesp.lib.addresses import _PLAIN, normalized_address


def _reference(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _ours(text: str) -> str | None:
    try:
        return normalized_address(text)
    except EmailNotValidError:
        return None


EDGES = [
    "first.last+tag@Mail.Example.COM",
    "a@b.co",
    "A_B-c+d@x-y.example.org",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["c" * 63] * 3) + "." + "d" * 61 + ".com",  # past 253
    "a" * 64 + "@" + ".".join(["c" * 60] * 3) + ".org",  # past 254 in all
    "user@example.test",
    "user@sub.localhost",
    "user@hidden.onion",
    "user@x.invalid",
    "user@in-addr.arpa",
    "user@localhost",
    "user@ab--cd.com",
    "user@xn--bcher-kva.example",
    "user@xn--zz.example",
    "user@a.b.123",
    "user@b.com.",
    ".user@b.com",
    "us..er@b.com",
    "user.@b.com",
    "user@-b.com",
    "user@b-.com",
    "user@b..com",
    "user@@b.com",
    'quoted"@b.com',
    '"quoted local"@b.com',
    "user@bücher.example",
    "üser@b.com",
    "o'brien@b.com",
    "user@b.c",
    "user@[192.0.2.1]",
    "",
    "@b.com",
    "user@",
]


@pytest.mark.parametrize("text", EDGES)
def test_edges_answer_as_email_validator(text):
    assert _ours(text) == _reference(text)


def test_random_addresses_answer_as_email_validator():
    # Pieces that make plain addresses often (the fast path) and every kind of trouble sometimes.
    plain = ["a", "Bob", "z9", "0", "_", "+", "-", ".", "mail", "EXAMPLE", "com", "org", "co", "x" * 63, "y" * 64]
    trouble = ["..", "--", "xn--", "é", "!", "#", '"', " ", "@", "test", "local", "localhost", "onion", "1"]
    rng = random.Random(20261206)
    fast = 0
    for _ in range(30_000):

        def part(n: int) -> str:
            return "".join(rng.choice(plain if rng.random() < 0.9 else trouble) for _ in range(rng.randint(1, n)))

        text = part(3) + "@" + ".".join(part(2) for _ in range(rng.randint(1, 4)))
        fast += _PLAIN.fullmatch(text) is not None
        assert _ours(text) == _reference(text), text
    assert fast > 1_000  # the comparison covered the fast path, not only the fallback

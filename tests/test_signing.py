"""Signed links (``openesp.lib.signing``): the one format of the unsubscribe and preference links."""

from __future__ import annotations

import base64

import pytest

from openesp.lib import signing
from openesp.lib.tokens import token_hash


def test_it_round_trips_a_text():
    token = signing.sign("7:ann@example.com", "unsubscribe")
    link = signing.read(token, max_payload=100)
    assert link.text == "7:ann@example.com"
    assert link.valid("unsubscribe")


def test_it_keeps_the_format_of_links_already_sent():
    # Links in old mail must keep working: base64url without padding, a dot, 32 hex of the HMAC.
    payload = base64.urlsafe_b64encode(b"42").decode().rstrip("=")
    assert signing.sign("42", "preferences", bound_to="7:ann@example.com") == (
        f"{payload}.{token_hash(f'{payload}:7:ann@example.com', 'preferences')[:32]}"
    )
    assert signing.sign("42", "unsubscribe") == f"{payload}.{token_hash(payload, 'unsubscribe')[:32]}"


def test_it_refuses_another_purpose_or_binding():
    token = signing.sign("42", "preferences", bound_to="7:ann@example.com")
    link = signing.read(token, max_payload=24)
    assert not link.valid("unsubscribe", bound_to="7:ann@example.com")
    assert not link.valid("preferences", bound_to="7:bob@example.com")
    assert not link.valid("preferences")


@pytest.mark.parametrize(
    "token", ["", "abc", "abc.", "a" * 30 + "." + "0" * 32, "QQ.xyz", "QQ." + "0" * 32 + "\n", "@@." + "0" * 32]
)
def test_it_refuses_what_is_not_a_token(token):
    with pytest.raises(signing.BadLink):
        signing.read(token, max_payload=24)


def test_it_refuses_a_text_that_does_not_decode():
    with pytest.raises(signing.BadLink):
        signing.read("_w." + "0" * 32, max_payload=24)  # 0xff: not UTF-8


def test_it_refuses_a_tampered_signature():
    token = signing.sign("42", "unsubscribe")
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert not signing.read(tampered, max_payload=24).valid("unsubscribe")


def test_it_signs_alike_with_a_purpose_key_and_no_django(settings):
    # The build processes sign tracked links with lib.linksign and a key handed to them.
    from openesp.lib.linksign import purpose_key, sign_with

    for text in ("42", "7|0|https://example.org/a?b=c&d=é", ""):
        assert sign_with(purpose_key(settings.SECRET_KEY, "track-click"), text) == signing.sign(text, "track-click")


def test_a_new_secret_key_takes_effect_at_once(settings):
    # The purpose's key is derived once and kept (lib.tokens): kept per secret, not for good.
    before = token_hash("42", "unsubscribe")
    old_link = signing.sign("42", "unsubscribe")
    settings.SECRET_KEY = "another-secret-key-of-enough-length-for-django-0123456789"
    assert token_hash("42", "unsubscribe") != before
    assert not signing.read(old_link, max_payload=10).valid("unsubscribe")

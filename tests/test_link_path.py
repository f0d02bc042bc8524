"""signing.link_path: the link routes reversed once, with the same result as reverse()."""

from __future__ import annotations

from django.urls import reverse, set_script_prefix

from openesp.lib.signing import link_path, sign


def test_it_gives_what_reverse_gives_also_under_a_script_prefix():
    token = sign("42", "unsubscribe")
    for name in ("unsubscribe", "preferences"):
        assert link_path(name, token) == reverse(name, args=[token])
    try:
        set_script_prefix("/esp/")
        assert link_path("unsubscribe", token) == reverse("unsubscribe", args=[token])
        assert link_path("unsubscribe", token).startswith("/esp/")
    finally:
        set_script_prefix("/")
    assert link_path("unsubscribe", token) == reverse("unsubscribe", args=[token])


def test_a_token_that_needs_quoting_goes_through_reverse():
    assert link_path("unsubscribe", "a b+é") == reverse("unsubscribe", args=["a b+é"])

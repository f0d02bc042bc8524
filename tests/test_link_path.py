"""signing.link_path: the link routes reversed once, with the same result as reverse()."""

from __future__ import annotations

from django.urls import reverse, set_script_prefix

from openesp.lib.signing import link_path, links_for_a_batch, sign


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


def test_within_a_batch_the_context_is_read_once_and_given_back_after():
    token = sign("42", "unsubscribe")
    try:
        with links_for_a_batch():
            assert link_path("unsubscribe", token) == reverse("unsubscribe", args=[token])
            set_script_prefix("/esp/")  # read when the batch began: a batch's links are alike
            assert not link_path("unsubscribe", token).startswith("/esp/")
            with links_for_a_batch():  # nested: its own context, then the outer one again
                assert link_path("unsubscribe", token).startswith("/esp/")
            assert not link_path("unsubscribe", token).startswith("/esp/")
        assert link_path("unsubscribe", token) == reverse("unsubscribe", args=[token])
        assert link_path("unsubscribe", token).startswith("/esp/")
    finally:
        set_script_prefix("/")

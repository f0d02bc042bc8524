"""The bounce corpus read and classified: DSNs as Postfix, Exim, Exchange and Gmail write them,
bounce mail in no standard form, ARF complaints, and mail that is no bounce at all."""

from __future__ import annotations

import pytest

from openesp.events.classify import HARD, SENDER, SOFT, classify
from openesp.events.dsn import read_bounce
from tests.events.corpus import CORPUS, bounce_mail

# file → (kind, status, classification, source)
EXPECTED = {
    "postfix_user_unknown.eml": ("failed", "5.1.1", HARD, "dsn"),
    "postfix_delayed.eml": ("delayed", "4.4.1", SOFT, "dsn"),
    "exim_dsn.eml": ("failed", "5.0.0", HARD, "dsn"),
    "exchange_ndr.eml": ("failed", "5.1.10", HARD, "dsn"),
    "gmail_policy.eml": ("failed", "5.7.26", SENDER, "dsn"),
    "gmail_quota.eml": ("failed", "4.2.2", SOFT, "dsn"),
    "qmail_text.eml": ("failed", "5.0.0", HARD, "fallback"),
    "exim_text.eml": ("failed", "5.0.0", HARD, "fallback"),
    "arf_abuse.eml": ("complaint", "", None, "arf"),
    "arf_no_rcpt.eml": ("complaint", "", None, "arf"),
}


def test_the_corpus_is_all_tested():
    assert {p.name for p in CORPUS.glob("*.eml")} == set(EXPECTED) | {"autoreply_not_bounce.eml"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bounce_is_read_and_classified(name):
    kind, status, classification, source = EXPECTED[name]
    reports = read_bounce(bounce_mail(name, rcpt="gone@example.net"))
    assert len(reports) == 1
    report = reports[0]
    assert (report.kind, report.status, report.source) == (kind, status, source)
    if name != "arf_no_rcpt.eml":  # a feedback loop that redacts the recipient says nothing of it
        assert report.recipient == "gone@example.net"
    if classification is not None:
        assert classify(report.status) == classification


def test_a_dsn_gives_the_diagnostic_and_the_smtp_code():
    report = read_bounce(bounce_mail("postfix_user_unknown.eml", rcpt="gone@example.net"))[0]
    assert report.smtp_code == 550
    assert report.diagnostic.startswith("550 5.1.1 <gone@example.net>: Recipient address rejected")
    assert report.action == "failed"
    exchange = read_bounce(bounce_mail("exchange_ndr.eml"))[0]
    assert "RESOLVER.ADR.RecipientNotFound" in exchange.diagnostic


def test_an_auto_reply_is_no_bounce():
    assert read_bounce(bounce_mail("autoreply_not_bounce.eml")) == []


def test_garbage_is_no_bounce():
    assert read_bounce(b"\x00\xff not a mail at all") == []
    assert read_bounce(b"") == []


@pytest.mark.parametrize(
    ("status", "hint", "cause", "expected"),
    [
        ("5.1.1", "", "", HARD),
        ("5.2.2", "soft", "", HARD),  # the status decides over the provider's word
        ("4.2.2", "", "", SOFT),
        ("5.7.1", "hard", "", SENDER),
        ("", "soft", "", SOFT),
        ("", "hard", "spam", SENDER),  # Mailjet: error_related_to spam is the sender's problem
        ("", "", "", HARD),
    ],
)
def test_classification(status, hint, cause, expected):
    assert classify(status, hint, cause) == expected

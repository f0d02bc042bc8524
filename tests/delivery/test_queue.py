"""Batch claims with leases on the messages table (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.delivery.build import build
from openesp.delivery.claim import attachments_of, claim_batch, load
from openesp.delivery.queue import Backoff, claim
from openesp.messaging.actions import enqueue_message
from openesp.messaging.models import Message
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db


def _enqueue(n: int, **extra) -> list[int]:
    return [
        enqueue_message(category="system", to_email=f"u{i}@example.org", subject="s", text_body="t", **extra).pk
        for i in range(n)
    ]


def test_it_claims_due_messages_once():
    ids = _enqueue(5)
    first = claim("w1", limit=3)
    second = claim("w2", limit=10)
    assert first == ids[:3]
    assert second == ids[3:]
    assert claim("w3") == []
    rows = Message.objects.in_bulk(ids)
    assert {rows[i].lease_owner for i in first} == {"w1"}
    assert all(rows[i].status == "sending" and rows[i].attempts == 1 for i in ids)


def test_it_leaves_messages_that_are_not_due():
    later = _enqueue(1)
    Message.objects.filter(pk__in=later).update(not_before=timezone.now() + timedelta(minutes=5))
    sent = _enqueue(1)
    Message.objects.filter(pk__in=sent).update(status="sent")
    assert claim("w1") == []


def test_it_reclaims_expired_leases_of_dead_workers():
    ids = _enqueue(2)
    assert claim("dead", lease=timedelta(seconds=-1)) == ids
    assert claim("alive") == ids
    assert set(Message.objects.values_list("lease_owner", "attempts")) == {("alive", 2)}


def test_it_keeps_live_leases():
    ids = _enqueue(2)
    assert claim("w1") == ids
    assert claim("w2") == []


def test_it_backs_off_exponentially_with_a_cap():
    backoff = Backoff(jitter=0)
    now = timezone.now()
    delays = [(backoff.next_attempt(n, now) - now).total_seconds() for n in (1, 2, 3, 7, 20)]
    assert delays == [60, 120, 240, 3600, 3600]
    assert backoff.expired(now - timedelta(days=5), now)
    assert not backoff.expired(now - timedelta(days=4, hours=23), now)


def test_it_jitters_within_bounds():
    backoff = Backoff(jitter=0.2)
    now = timezone.now()
    delays = {(backoff.next_attempt(1, now) - now).total_seconds() for _ in range(50)}
    assert all(48 <= d <= 72 for d in delays)
    assert len(delays) > 1


def test_it_reads_the_backoff_from_settings(settings):
    settings.OPENESP_RETRY_FIRST_SECONDS = 30
    settings.OPENESP_RETRY_MAX_SECONDS = 600
    settings.OPENESP_MESSAGE_LIFETIME_HOURS = 24
    backoff = Backoff.from_settings()
    assert (backoff.first, backoff.cap, backoff.lifetime) == (
        timedelta(seconds=30),
        timedelta(minutes=10),
        timedelta(hours=24),
    )


def test_a_claimed_batch_carries_each_messages_own_attachments_and_one_sender(alice):
    def send(to: str, *files: str) -> Message:
        body = {"from": "alice@example.org", "to": [to], "subject": "s", "text": "t",
                "attachments": [{"filename": f, "content": "eA=="} for f in files]}  # fmt: skip
        (message,) = submit(alice, parse_submission(body))
        return message

    two, none, one = send("a@example.net", "1.txt", "2.txt"), send("b@example.net"), send("c@example.net", "3.txt")
    claimed = {m.pk: m for m in claim_batch("w1", limit=10, lease=timedelta(minutes=1))}
    assert [a.filename for a in attachments_of(claimed[two.pk])] == ["1.txt", "2.txt"]
    assert attachments_of(claimed[none.pk]) == []
    assert [a.filename for a in attachments_of(claimed[one.pk])] == ["3.txt"]
    # The sender is one object for the batch, not one per message.
    assert len({id(m.user) for m in claimed.values()}) == 1 and claimed[two.pk].user.pk == alice.pk
    # A message that was not claimed reads its attachments itself.
    assert [a.filename for a in attachments_of(Message.objects.get(pk=two.pk))] == ["1.txt", "2.txt"]


def test_a_claimed_batch_reads_a_shared_to_header_once_and_builds_it_into_each_copy(alice, django_assert_num_queries):
    body = {"from": "alice@example.org", "to": [f"u{i}@example.net" for i in range(50)],
            "cc": ["c@example.net"], "subject": "s", "text": "t"}  # fmt: skip
    submit(alice, parse_submission(body))
    ids = claim("w1", limit=100, lease=timedelta(minutes=1))
    # The messages, their sender, the shared headers, the shared body, attachment links.
    with django_assert_num_queries(5):
        claimed = load(ids, "w1")
    assert len(claimed) == 51 and len({id(m.address_headers) for m in claimed}) == 1
    assert len({id(m.body) for m in claimed}) == 1 and claimed[0].text_body == "t"
    for message in (claimed[0], claimed[-1]):
        head = build(message).split(b"\r\n\r\n", 1)[0].decode()
        assert "u0@example.net, u1@example.net," in head and "u49@example.net" in head
        assert "Cc: c@example.net" in head

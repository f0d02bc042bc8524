"""At most once for reminders and receipts (decision 018): the recovery rule and the marks.

A message of an ``AT_MOST_ONCE`` category whose worker began sending it and then lost its lease
(it died) is never claimed again: ``sent`` when the provider's acceptance was marked, otherwise
``unconfirmed`` with the reason on its timeline. One whose sending never began is claimed again,
as is mail of every other category. The processes killed with SIGKILL are in
``tests/campaigns/test_send_once_crash.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.delivery.queue import NOT_SENT_AGAIN, claim, mark_accepted, mark_started
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Category, Event, Message, Status
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db

DEAD = "elsewhere.example:1:dead"


def _message(address: str, category: str, *, started: int = 0, accepted: int = 0, attempts: int = 1,
             expired: bool = True) -> Message:  # fmt: skip
    now = timezone.now()
    until = now - timedelta(seconds=5) if expired else now + timedelta(hours=1)
    return Message.objects.create(
        from_email="s@example.org", to_email=address, subject="s", text_body="b", category=category,
        status=Status.SENDING, lease_owner=DEAD, lease_until=until, attempts=attempts,
        started_attempt=started, accepted_attempt=accepted,
    )  # fmt: skip


def test_a_started_reminder_or_receipt_of_a_dead_worker_is_never_claimed_again():
    begun = _message("begun@example.net", Category.REMINDER, started=1)
    scheduled = _message("scheduled@example.net", Category.REMINDER_SCHEDULED, started=1)
    accepted = _message("accepted@example.net", Category.RESPONSE_RECEIPT, started=1, accepted=1)
    untried = _message("untried@example.net", Category.RESPONSE_RECEIPT)
    earlier = _message("earlier@example.net", Category.REMINDER, started=1, accepted=0, attempts=2)  # deferred once
    invitation = _message("invitation@example.net", Category.INVITATION)
    alive = _message("alive@example.net", Category.REMINDER, started=1, expired=False)

    claimed = set(claim("w2", limit=50, lease=timedelta(seconds=30)))

    # Never begun (or begun in an earlier attempt whose outcome was recorded), or another
    # category: sent again, as before. A live lease is left alone.
    assert claimed == {untried.pk, earlier.pk, invitation.pk}
    for message in (begun, scheduled, accepted, alive):
        message.refresh_from_db()
    for message in (begun, scheduled):
        assert (message.status, message.lease_owner, message.lease_until) == (Status.UNCONFIRMED, "", None)
        assert message.last_response == NOT_SENT_AGAIN
        (event,) = Event.objects.filter(message=message)
        assert (event.type, event.detail, event.data["worker"]) == ("unconfirmed", NOT_SENT_AGAIN, DEAD)
    assert (accepted.status, accepted.sent_at is not None) == (Status.SENT, True)
    (event,) = Event.objects.filter(message=accepted)
    assert event.type == "sent" and event.data["recovered"] is True
    assert (alive.status, alive.lease_owner) == (Status.SENDING, DEAD)
    # Settled once: another claim finds nothing more of them.
    assert not set(claim("w3", limit=50, lease=timedelta(seconds=30))) & {begun.pk, scheduled.pk, accepted.pk}
    assert Event.objects.filter(type="unconfirmed").count() == 2


def test_started_messages_beyond_one_claims_limit_wait_to_be_settled_not_claimed():
    started = [_message(f"s{i}@example.net", Category.RESPONSE_RECEIPT, started=1) for i in range(5)]
    untried = _message("untried@example.net", Category.RESPONSE_RECEIPT)
    # Each claim settles at most its limit; the rest are skipped by it, never sent again.
    assert claim("w2", limit=2, lease=timedelta(seconds=30)) == [untried.pk]
    assert Message.objects.filter(status=Status.UNCONFIRMED).count() == 2
    assert claim("w2", limit=2, lease=timedelta(seconds=30)) == []
    assert claim("w2", limit=2, lease=timedelta(seconds=30)) == []
    assert set(Message.objects.filter(pk__in=[m.pk for m in started]).values_list("status", flat=True)) == {
        Status.UNCONFIRMED
    }


def test_marks_are_written_only_on_messages_still_leased_to_the_worker():
    mine = _message("mine@example.net", Category.REMINDER, expired=False)
    theirs = _message("theirs@example.net", Category.REMINDER, expired=False)
    Message.objects.filter(pk=mine.pk).update(lease_owner="w1")
    assert mark_started("w1", [mine.pk, theirs.pk]) == {mine.pk}
    assert mark_accepted("w1", [mine.pk, theirs.pk]) == {mine.pk}
    assert list(Message.objects.order_by("pk").values_list("started_attempt", "accepted_attempt")) == [(1, 1), (0, 0)]


@pytest.mark.parametrize("provider", ["smtp", "sendgrid"])
def test_the_worker_marks_reminders_and_receipts_before_sending_and_nothing_else(
    provider, alice, smtp_server, sendgrid_server
):
    if provider == "sendgrid":
        EspConfig.objects.create(user=alice, kind="sendgrid")
    data = {"from": alice.email, "to": [f"r{i}@example.net" for i in range(4)], "subject": "Hi", "text": "Body"}
    messages = submit(alice, parse_submission(data))
    categories = [Category.REMINDER, Category.RESPONSE_RECEIPT, Category.INVITATION, Category.TRANSACTIONAL]
    for message, category in zip(messages, categories, strict=True):
        Message.objects.filter(pk=message.pk).update(category=category)
    worker = Worker("once-worker", pool_size=2)
    try:
        assert worker.run_once() == 4
    finally:
        worker.close()
    rows = Message.objects.order_by("pk").values_list("status", "attempts", "started_attempt", "accepted_attempt")
    assert list(rows) == [("sent", 1, 1, 1), ("sent", 1, 1, 1), ("sent", 1, 0, 0), ("sent", 1, 0, 0)]

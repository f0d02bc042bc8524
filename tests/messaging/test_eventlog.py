"""The one event writer: what it writes, listeners see, in the writer's transaction."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from django.db import transaction

from openesp.messaging import eventlog
from openesp.messaging.models import Event, EventType
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seen():
    batches: list[list[tuple[int, str]]] = []

    def listener(events: Sequence[Event]) -> None:
        batches.append([(e.message_id, e.type) for e in events])

    eventlog.on_events(listener)
    eventlog.on_events(listener)  # registering twice still calls it once
    yield batches
    eventlog._listeners.remove(listener)


def test_queued_events_reach_listeners_once_per_batch(alice, seen):
    body = {"from": "alice@example.org", "to": ["bob@example.net", "carol@example.net"], "subject": "Hi", "text": "x"}
    messages = submit(alice, parse_submission(body))
    assert seen == [[(m.pk, EventType.QUEUED) for m in messages]]
    assert Event.objects.filter(type=EventType.QUEUED).count() == 2


def test_a_listener_that_fails_rolls_the_events_back(alice):
    def boom(events: Sequence[Event]) -> None:
        raise RuntimeError("counter table unavailable")

    eventlog.on_events(boom)
    try:
        body = {"from": "alice@example.org", "to": ["bob@example.net"], "subject": "Hi", "text": "x"}
        with pytest.raises(RuntimeError), transaction.atomic():
            submit(alice, parse_submission(body))
    finally:
        eventlog._listeners.remove(boom)
    assert not Event.objects.exists()

"""events.process: a chunk planned before the write (SQLite's way) is written only if nothing
it read has changed since."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from openesp.events import process
from openesp.events.inbox import store_batch
from openesp.events.models import InboxBatch, InboxEvent
from openesp.messaging.models import Event
from tests.events.conftest import process_all, sent

pytestmark = pytest.mark.django_db(transaction=True)


def _open(message, n: int) -> dict:
    return {"event": "open", "timestamp": 1513299600 + n, "sg_event_id": f"open-{message.pk}-{n}",
            "openesp_message_id": str(message.public_id)}  # fmt: skip


def _store(events: list[dict]) -> None:
    store_batch("sendgrid", json.dumps(events), len(events))


def test_a_plan_whose_batch_another_worker_took_writes_nothing(alice, workspace):
    (message,) = sent(alice, workspace, ["a@example.net"])
    _store([_open(message, 0)])
    plan = process._plan(process._claim(1000)[0])
    assert process_all() == 1  # another worker, meanwhile
    with transaction.atomic():
        assert plan is not None
        assert process._record(plan, recheck=True) is False
    assert Event.objects.filter(type="opened").count() == 1
    assert InboxEvent.objects.count() == 1


def test_an_open_recorded_after_the_plan_was_made_is_not_first_again(alice, workspace):
    (message,) = sent(alice, workspace, ["b@example.net"])
    _store([_open(message, 1)])
    plan = process._plan(process._claim(1000)[0])
    # Meanwhile another worker records an earlier batch's open of the same message.
    Event.objects.create(message=message, type="opened", data={"first": True})
    with transaction.atomic():
        assert plan is not None
        assert process._record(plan, recheck=True) is True
    latest = Event.objects.filter(type="opened").order_by("-id").first()
    assert latest is not None and latest.data["first"] is False
    assert InboxBatch.objects.get().state == "done"

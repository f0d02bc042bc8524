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


def test_a_report_settles_an_unconfirmed_message_but_never_revives_a_cancelled_one(alice, workspace):
    from openesp.messaging.models import Message, Status

    unconfirmed, bounced, cancelled = sent(alice, workspace, ["u@example.net", "b@example.net", "c@example.net"])
    Message.objects.filter(pk__in=[unconfirmed.pk, bounced.pk]).update(status=Status.UNCONFIRMED)
    Message.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED)

    def report(message, kind: str, n: int) -> dict:
        extra = {"type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 no such user"} if kind == "bounce" else {}
        return {"event": kind, "timestamp": 1513299600 + n, "sg_event_id": f"{kind}-{message.pk}",
                "openesp_message_id": str(message.public_id), "email": message.to_email, **extra}  # fmt: skip

    _store([report(unconfirmed, "delivered", 0), report(bounced, "bounce", 1), report(cancelled, "delivered", 2)])
    assert process_all() == 3
    statuses = dict(Message.objects.values_list("to_email", "status"))
    assert statuses == {"u@example.net": "delivered", "b@example.net": "bounced", "c@example.net": "cancelled"}

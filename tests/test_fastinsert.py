"""lib.fastinsert: rows written without the ORM's compiler read back as the ORM wrote them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy

from openesp.lib.fastinsert import insert_all
from openesp.messaging.models import Attachment, Event, EventType, Message, Status

pytestmark = pytest.mark.django_db


def _message(alice, n: int, **extra) -> Message:
    return Message(
        user=alice,
        from_email="alice@example.org",
        to_email=f"r{n}@example.net",
        to_name="Ré Ç 😀",
        subject=f"Subject {n}",
        text_body="line\nline",
        headers={"X-Order": str(n)},
        metadata={"nested": {"n": n, "list": [1, None, "x"]}},
        tags=["a", "b"],
        status=Status.QUEUED,
        not_before=timezone.now() + timedelta(minutes=n),
        **extra,
    )


def test_every_kind_of_value_reads_back_as_written(alice, workspace):
    fast = [_message(alice, n, workspace=workspace, organization=workspace.organization) for n in range(3)]
    insert_all(fast)
    assert all(m.pk is not None and not m._state.adding for m in fast)
    for written in fast:
        read = Message.objects.get(pk=written.pk)
        for field in Message._meta.concrete_fields:
            assert getattr(read, field.attname) == getattr(written, field.attname), field.name
        assert isinstance(read.public_id, uuid.UUID)


def test_keys_come_back_in_order_across_chunks(alice):
    rows = [_message(alice, n) for n in range(1203)]
    insert_all(rows, batch=500)
    assert [Message.objects.get(pk=m.pk).to_email for m in rows[::100]] == [m.to_email for m in rows[::100]]
    assert len({m.pk for m in rows}) == 1203


def test_bytes_and_links_and_events(alice):
    (message,) = insert_all([_message(alice, 1)])
    (attachment,) = insert_all(
        [Attachment(filename="a.bin", data=bytes(range(256)), size=256, content_type="application/octet-stream")]
    )
    through = Message.attachments.through
    insert_all([through(message_id=message.pk, attachment_id=attachment.pk)])
    insert_all([Event(message=message, type=EventType.QUEUED, data={"k": [1, 2]}), Event(message=message, type="sent")])
    assert bytes(Message.objects.get(pk=message.pk).attachments.get().data) == bytes(range(256))
    assert list(Event.objects.filter(message=message).order_by("pk").values_list("type", "data")) == [
        ("queued", {"k": [1, 2]}),
        ("sent", {}),
    ]


def test_nothing_to_insert_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert insert_all([]) == []


def test_a_value_shared_by_rows_is_written_for_each_and_a_changed_one_anew(alice):
    # Dates and JSON are converted once per object within a call (every row's created_at is
    # the same ``now``): rows sharing one still get it, and a dict changed between two calls
    # is written as it is then.
    shared, now = {"X-Batch": "1"}, timezone.now()
    first = [_message(alice, n, created_at=now) for n in range(3)]
    for message in first:
        message.headers = shared
    insert_all(first)
    shared["X-Batch"] = "2"
    later = _message(alice, 10, created_at=now)
    later.headers = shared
    insert_all([later])
    stored = dict(Message.objects.values_list("pk", "headers"))
    assert [stored[m.pk] for m in first] == [{"X-Batch": "1"}] * 3
    assert stored[later.pk] == {"X-Batch": "2"}
    assert {m.created_at for m in Message.objects.all()} == {now}


@pytest.mark.parametrize(
    "value",
    [{}, [], {"a": 1}, ["x", None, 1.5, True], {"ré": "😀", "n": {"deep": [{}]}}, "plain", 7, 2.5, False],
)
def test_json_is_stored_as_the_orm_stores_it(alice, value):
    # On SQLite JSON is serialised here, not by the field (lib.fastinsert._sqlite_json): the
    # stored text must be the field's own, byte for byte, as SQL reads it back.
    fast = _message(alice, 1)
    fast.metadata = value
    insert_all([fast])
    orm = _message(alice, 2)
    orm.metadata = value
    orm.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, metadata FROM messaging_message WHERE id IN (%s, %s)", [fast.pk, orm.pk])
        stored = dict(cursor.fetchall())
    assert stored[fast.pk] == stored[orm.pk]
    assert Message.objects.get(pk=fast.pk).metadata == value


def test_a_lazy_string_in_json_is_stored_as_its_text(alice):
    fast = _message(alice, 1)
    fast.metadata = gettext_lazy("Cancelled")
    insert_all([fast])
    assert Message.objects.get(pk=fast.pk).metadata == "Cancelled"

"""lib.fastread: rows read by planned SQL come back as the ORM reads them."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from openesp.lib.fastread import by_ids, keys_of, load_related, values_by_ids
from openesp.messaging.models import AddressHeaders, Message, MessageBody, Status

pytestmark = pytest.mark.django_db

HANG = 60  # seconds: a hang detector, not a timing


def _messages(alice, workspace, count: int) -> list[Message]:
    shared = AddressHeaders.objects.create(to_header="A <a@example.net>, B <b@example.net>", cc_header="")
    made = []
    for n in range(count):
        body = MessageBody.objects.create(text=f"text {n} é 😀", html=f"<p>{n}</p>")
        made.append(
            Message.objects.create(
                user=alice,
                workspace=workspace if n % 2 else None,
                organization=workspace.organization if n % 2 else None,
                address_headers=shared if n % 3 == 0 else None,
                body=body,
                from_email="alice@example.org",
                to_email=f"r{n}@example.net",
                subject=f"Subject {n}",
                headers={"X-N": str(n)},
                metadata={"n": {"list": [n, None]}},
                tags=["a"],
                not_before=timezone.now(),
                lease_owner="w1" if n < count - 1 else "w2",
            )
        )
    return made


def test_rows_read_back_as_the_orm_reads_them_in_key_order(alice, workspace):
    made = _messages(alice, workspace, 5)
    wanted = [m.pk for m in reversed(made)] + [10**9]  # any order; a key with no row is no row
    read = by_ids(Message, wanted)
    assert [m.pk for m in read] == sorted(m.pk for m in made)
    for fast, orm in zip(read, Message.objects.filter(pk__in=wanted).order_by("pk"), strict=True):
        for field in Message._meta.concrete_fields:
            assert getattr(fast, field.attname) == getattr(orm, field.attname), field.name
        assert not fast._state.adding and fast._state.db == "default"
    assert by_ids(Message, []) == []


def test_a_condition_narrows_the_rows(alice, workspace):
    made = _messages(alice, workspace, 4)
    ids = [m.pk for m in made]
    assert [m.pk for m in by_ids(Message, ids, where="t.lease_owner = %s", params=["w1"])] == ids[:3]
    assert keys_of(Message, ids, where="t.lease_owner = %s AND t.status = %s", params=["w2", Status.QUEUED]) == ids[3:]
    assert keys_of(Message, ids, where="t.lease_owner = %s", params=["nobody"]) == []


def test_related_rows_are_set_as_prefetch_related_sets_them(alice, workspace, django_assert_num_queries):
    made = _messages(alice, workspace, 6)
    read = by_ids(Message, [m.pk for m in made])
    # One query a relation, whatever the number of rows.
    with django_assert_num_queries(5):
        load_related(read, "user", "organization", "workspace", "address_headers", "body")
    with django_assert_num_queries(0):  # nothing more is read through the relations
        for fast, orm in zip(read, made, strict=True):
            assert fast.user == alice
            assert fast.workspace == orm.workspace and fast.organization == orm.organization
            assert fast.address_headers == orm.address_headers
            assert fast.body is not None and fast.body.text == orm.body.text
    # One object for the rows that point at the same one, as prefetch_related gives it.
    assert read[0].address_headers is read[3].address_headers
    assert read[1].workspace is read[3].workspace
    assert read[0].workspace is None and read[1].address_headers is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connections["default"].vendor != "postgresql", reason="SQLite has no row locks")
def test_locked_keys_stay_locked_until_the_transaction_ends(alice, workspace):
    made = _messages(alice, workspace, 3)
    ids = [m.pk for m in made]
    locked, release, seen = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with transaction.atomic():
                seen.extend(keys_of(Message, ids, where="t.lease_owner = %s", params=["w1"], lock=True))
                locked.set()
                release.wait(timeout=HANG)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(timeout=HANG)
        assert seen == ids[:2]
        # NOWAIT: a row lock held elsewhere is an error at once.
        with transaction.atomic(), connection.cursor() as cursor, pytest.raises(OperationalError):
            cursor.execute("SELECT id FROM messaging_message WHERE id = %s FOR UPDATE NOWAIT", [ids[0]])
        with transaction.atomic(), connection.cursor() as cursor:  # the row it did not take is free
            cursor.execute("SELECT id FROM messaging_message WHERE id = %s FOR UPDATE NOWAIT", [ids[2]])
    finally:
        release.set()
        thread.join(timeout=HANG)


def test_values_of_some_fields_come_as_values_list_gives_them(alice, workspace):
    made = _messages(alice, workspace, 3)
    ids = [m.pk for m in made]
    names = ("id", "workspace_id", "created_at", "metadata", "category")
    assert values_by_ids(Message, ids[::-1], names) == [
        list(row) for row in Message.objects.filter(pk__in=ids).order_by("pk").values_list(*names)
    ]
    assert values_by_ids(Message, [], names) == []

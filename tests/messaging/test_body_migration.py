"""Migration 0011 moves the bodies of an existing database's messages out of the queue's rows
(decision 027), and back when it is reversed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("messaging", "0010_address_headers")]
AFTER = [("messaging", "0011_message_body")]


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_existing_bodies_move_to_their_own_rows_and_back():
    _migrate(BEFORE)
    # The model as it was then: the bodies in the message's row.
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model("messaging", "Message")
    for n, (text, html) in enumerate([("Hello", "<p>Hello</p>"), ("Text only", ""), ("", "")]):
        old.objects.create(from_email="a@example.org", to_email=f"r{n}@example.net", subject="s",
                           text_body=text, html_body=html)  # fmt: skip
    try:
        _migrate(AFTER)
        from openesp.messaging.models import Message, MessageBody

        stored = {m.to_email: (m.text_body, m.html_body, m.body_id) for m in Message.objects.order_by("id")}
        assert [(t, h) for t, h, _ in stored.values()] == [("Hello", "<p>Hello</p>"), ("Text only", ""), ("", "")]
        assert stored["r2@example.net"][2] is None  # no body, no row
        assert MessageBody.objects.count() == 2
        # New bodies are numbered after the moved ones (on PostgreSQL the sequence was set).
        moved = max(MessageBody.objects.values_list("pk", flat=True))
        assert MessageBody.objects.create(text="new").pk > moved

        _migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_email, text_body, html_body FROM messaging_message ORDER BY id")
            assert cursor.fetchall() == [
                ("r0@example.net", "Hello", "<p>Hello</p>"),
                ("r1@example.net", "Text only", ""),
                ("r2@example.net", "", ""),
            ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

"""lib.fastmodel.like: instances as ``Model(**kwargs)`` makes them, from a template."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from openesp.lib.fastmodel import like
from openesp.messaging.models import Event, EventType, Message


@pytest.mark.django_db
def test_a_copy_is_a_new_unsaved_instance_that_saves_as_one_made_by_init(alice):
    now = timezone.now()
    template = Message(user=alice, from_email="a@example.org", subject="s", text_body="b", created_at=now)
    copy = like(template, public_id=uuid.uuid4(), to_email="x@example.net")
    assert copy is not template and copy._state is not template._state
    assert copy._state.adding and copy._state.db is None and copy.pk is None
    assert copy.user is alice  # the cached related object came along, not only its id
    assert (copy.to_email, template.to_email) == ("x@example.net", "")
    copy.save()
    stored = Message.objects.get(pk=copy.pk)
    assert (stored.public_id, stored.to_email, stored.user_id, stored.subject) == (
        copy.public_id, "x@example.net", alice.pk, "s",
    )  # fmt: skip
    assert template.pk is None  # the template itself stays unsaved
    event = like(Event(type=EventType.QUEUED, created_at=now), data={})
    event.message = copy
    event.save()
    assert Event.objects.get(pk=event.pk).message_id == copy.pk


def test_a_saved_instance_is_not_a_template():
    message = Message(id=7)
    with pytest.raises(AssertionError):
        like(message)

"""Recording an open or a click as a message event (``messaging.eventlog.add_events``).

``Event(type=opened|clicked, data={"machine", "first", "first_human", "url", "user_agent",
"reason"})``: ``first`` is true for the first event of that type for the message (unique
opens and clicks), ``first_human`` for the first a person made; statistics count from these.
The message row is locked while deciding, so two simultaneous first opens count once.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from openesp.tracking.machine import machine_reason

MAX_USER_AGENT = 300


def record(message_id: int, type_: str, *, user_agent: str, ip: str, url: str = "", trap: bool = False) -> bool:
    """Record one open or click; False when the message no longer exists."""
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).only("pk", "sent_at").first()
        if message is None:
            return False
        reason = machine_reason(
            user_agent=user_agent, ip=ip, sent_at=message.sent_at, at=now, is_click=type_ == EventType.CLICKED,
            trap=trap,
        )  # fmt: skip
        earlier = Event.objects.filter(message_id=message_id, type=type_)
        first = not earlier.exists()
        first_human = not reason and not earlier.filter(data__machine=False).exists()
        data = {
            "machine": bool(reason),
            "first": first,
            "first_human": first_human,
            "url": url,
            "user_agent": user_agent[:MAX_USER_AGENT],
            "reason": reason,
        }
        add_events([Event(message=message, type=type_, created_at=now, data=data)])
    return True

"""The one writer of a message's events, and the hook that lets higher layers follow them.

Every event about a message (queued, sent, a provider's delivered or bounced, an open, a
response, …) is written here, in the caller's transaction. Apps above messaging that must
react to events — daily statistics, outbound webhooks — register a listener when Django
starts; a listener runs in the same transaction as the write, so what it records commits or
rolls back with the events themselves (nothing counted for an event that was never stored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from openesp.lib.fastinsert import insert_all
from openesp.messaging.models import Event

Listener = Callable[[Sequence[Event]], None]

_listeners: list[Listener] = []


def on_events(listener: Listener) -> None:
    """Call ``listener`` with every batch of events written from now on (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def add_events(events: Iterable[Event]) -> list[Event]:
    """Write ``events`` (one INSERT per 500) and hand them to the listeners; returns them."""
    written = list(insert_all(list(events)))
    if written:
        for listener in _listeners:
            listener(written)
    return written

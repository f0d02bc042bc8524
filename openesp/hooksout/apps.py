from django.apps import AppConfig


class HooksoutConfig(AppConfig):
    name = "openesp.hooksout"
    label = "hooksout"

    def ready(self) -> None:
        # messaging writes every event and cannot import this layer: register the outbox writer.
        from openesp.hooksout.outbox import enqueue_for_events
        from openesp.messaging.eventlog import on_events

        on_events(enqueue_for_events)

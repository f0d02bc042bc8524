from django.apps import AppConfig


class HooksoutConfig(AppConfig):
    name = "openesp.hooksout"
    label = "hooksout"

    def ready(self) -> None:
        # messaging writes every event and cannot import this layer: register the outbox writer.
        from openesp.hooksout.outbox import enqueue_for_events
        from openesp.messaging.eventlog import on_events

        on_events(enqueue_for_events)
        from openesp.lib.gauges import register_gauge

        register_gauge("openesp_webhook_backlog", "Outbound-webhook deliveries waiting to be delivered", _backlog)


def _backlog() -> list[tuple[dict[str, str], float]]:
    from openesp.hooksout.models import DeliveryStatus, WebhookDelivery

    return [({}, float(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count()))]

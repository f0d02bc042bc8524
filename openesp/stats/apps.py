from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "openesp.stats"
    label = "stats"

    def ready(self) -> None:
        # messaging and campaigns sit below stats and cannot import it: they call the hooks
        # registered here, inside the transaction that writes the events or the queued mail.
        from openesp.campaigns import queueing
        from openesp.messaging import eventlog
        from openesp.stats.counting import count_events, count_queued_campaign_mail

        eventlog.on_events(count_events)
        queueing.on_queued(count_queued_campaign_mail)

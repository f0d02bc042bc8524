from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "openesp.events"
    label = "events"

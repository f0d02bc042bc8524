from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "openesp.tracking"
    label = "tracking"

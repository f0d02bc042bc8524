from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "openesp.audience"
    label = "audience"

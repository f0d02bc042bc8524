from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "openesp.front"
    label = "front"

from django.apps import AppConfig


class EspConfig(AppConfig):
    name = "openesp.esp"
    label = "esp"

from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "openesp.compat"
    label = "compat"

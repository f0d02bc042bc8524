from django.apps import AppConfig


class LibConfig(AppConfig):
    name = "openesp.lib"
    label = "lib"

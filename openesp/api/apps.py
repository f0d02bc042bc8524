from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "openesp.api"
    label = "api"

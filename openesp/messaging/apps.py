from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "openesp.messaging"
    label = "messaging"

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "openesp.delivery"
    label = "delivery"

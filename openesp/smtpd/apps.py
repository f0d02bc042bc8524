from django.apps import AppConfig


class SmtpdConfig(AppConfig):
    name = "openesp.smtpd"
    label = "smtpd"

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "openesp.accounts"
    label = "accounts"

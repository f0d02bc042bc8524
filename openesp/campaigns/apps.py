from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "openesp.campaigns"
    label = "campaigns"

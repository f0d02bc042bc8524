from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's face: commands that run or maintain a whole installation (``serve``,
    ``rotatekeys``). Like the API and the web UI it sits on top and may use every layer."""

    name = "openesp.ops"
    label = "ops"

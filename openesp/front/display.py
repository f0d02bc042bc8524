"""How providers, reasons and test results are shown: labels shared by several pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from openesp.esp.effective import Effective
from openesp.esp.models import EspConfig, EspKind
from openesp.esp.operator import StandardProvider, operator_default, standard_providers
from openesp.esp.providers import registry

# The mail that goes through the effective provider, in the seed's words and order.
MAIL_CATEGORIES: list[Promise] = [
    _("Invitations: manual and automations"),
    _("Reminders: manual and scheduled"),
    _("Response receipts"),
    _("Organization invitations"),
    _("Workspace invitations"),
    _("Category messages"),
    _("System messages"),
]

# The steps a connection test reports, as testconn names them.
TEST_STEPS: dict[str, Promise] = {
    "validate": _("Checking the settings"),
    "input": _("Checking the settings"),
    "dns": _("Looking up the host name"),
    "resolve": _("Looking up the host name"),
    "guard": _("Checking the address"),
    "connect": _("Connecting"),
    "greeting": _("Waiting for the server's greeting"),
    "ehlo": _("Greeting the server (EHLO)"),
    "starttls": _("Starting TLS"),
    "tls": _("Negotiating TLS"),
    "auth": _("Logging in"),
    "login": _("Logging in"),
    "sender": _("Sending from the “From” address"),
    "mail_from": _("Sending from the “From” address"),
    "recipient": _("Naming the recipient"),
    "rcpt_to": _("Naming the recipient"),
    "data": _("Sending the test mail"),
    "send": _("Sending the test mail"),
    "folder": _("Opening the folder"),
    "api": _("Checking the provider's credentials"),
    "credentials": _("Checking the provider's credentials"),
    "done": _("Done"),
    "sent": _("Done"),
}


@dataclass(frozen=True)
class ProviderView:
    kind: str
    title: str
    region: str
    detail: str
    badge: str = ""


def _title(kind: str) -> str:
    if kind == EspKind.SMTP:
        return str(_("Custom email provider"))
    cls = registry.get(kind)
    if cls is not None:
        return cls.label
    return str(_("No provider"))


def _region(kind: str) -> str:
    cls = registry.get(kind)
    return str(cls.region) if cls is not None else ""


def _badge(kind: str) -> str:
    cls = registry.get(kind)
    return cls.badge if cls is not None else ""


def describe_config(config: EspConfig | None) -> ProviderView | None:
    if config is None:
        return None
    detail = ""
    if config.kind == EspKind.SMTP:
        detail = f"{config.host}:{config.port}" if config.port else config.host
    return ProviderView(config.kind, _title(config.kind), _region(config.kind), detail, _badge(config.kind))


def describe_effective(effective: Effective) -> ProviderView:
    if effective.config is not None:
        view = describe_config(effective.config)
        assert view is not None
        return view
    if effective.kind == EspKind.SMTP:
        relay = operator_default().relay
        return ProviderView("smtp", str(_("The server's SMTP relay")), "", relay.host if relay else "", _badge("smtp"))
    return ProviderView(effective.kind, _title(effective.kind), _region(effective.kind), "", _badge(effective.kind))


def describe_route(kind: str) -> ProviderView | None:
    """The provider that carried a message, from the kind the worker recorded (None: not yet routed).

    ``relay`` is the operator's SMTP relay and ``none`` means no provider was configured.
    """
    if not kind:
        return None
    if kind == "relay":
        return ProviderView("smtp", str(_("The server's SMTP relay")), "", "", _badge("smtp"))
    if kind in (EspKind.SMTP, "none"):
        return ProviderView(kind, _title(kind), "", "", _badge(kind))
    cls = registry.get(kind)
    if cls is None:
        return ProviderView(kind, kind, "", "")
    return ProviderView(kind, cls.label, str(cls.region), "", cls.badge)


def step_label(step: str) -> str:
    label = TEST_STEPS.get(step)
    return str(label) if label is not None else step


def provider_cards(current_kind: str | None) -> list[dict[str, object]]:
    cards: list[dict[str, object]] = []
    provider: StandardProvider
    for provider in standard_providers().values():
        cards.append({"provider": provider, "current": provider.kind == current_kind})
    return cards


def egress_ips() -> list[str]:
    return list(settings.OPENESP_EGRESS_IPS)

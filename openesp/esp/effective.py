"""The one function that decides which provider carries mail sent on behalf of a user.

Precedence: the organization's config if it enforces it; else the user's personal config;
else the organization's config; else the operator default. A chosen standard provider that
the operator has not configured (or has since removed) is passed over, and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from openesp.accounts.models import Organization, User
from openesp.esp.models import EspConfig
from openesp.esp.operator import operator_default
from openesp.esp.providers import registry


@dataclass(frozen=True)
class Effective:
    kind: str  # a registered provider kind, or none (nothing configured anywhere)
    config: EspConfig | None  # None for the operator default
    owner: str  # "user", "organization" or "operator"
    reason: str

    @property
    def config_id(self) -> int | None:
        return self.config.id if self.config is not None else None


def _usable(config: EspConfig | None) -> bool:
    return config is not None and registry.usable(config.kind)


def _unavailable_note(config: EspConfig) -> str:
    return _("%(provider)s is not available on this server") % {"provider": config.get_kind_display()}


def effective_provider(user: User | None, organization: Organization | None = None) -> Effective:
    personal = EspConfig.objects.filter(user=user).first() if user is not None else None
    org_config = EspConfig.objects.filter(organization=organization).first() if organization is not None else None
    notes: list[str] = []

    if org_config is not None and org_config.enforced:
        if _usable(org_config):
            reason = _("enforced by organization %(name)s") % {"name": organization}
            return Effective(org_config.kind, org_config, "organization", reason)
        notes.append(_unavailable_note(org_config))
    if personal is not None:
        if _usable(personal):
            return Effective(personal.kind, personal, "user", _("your personal setting"))
        notes.append(_unavailable_note(personal))
    if org_config is not None and not org_config.enforced:
        if _usable(org_config):
            reason = _("the setting of organization %(name)s") % {"name": organization}
            return Effective(org_config.kind, org_config, "organization", _join(notes, reason))
        notes.append(_unavailable_note(org_config))
    default = operator_default()
    if default.kind == "none":
        reason = _("no provider is configured: mail stays queued until one is")
    else:
        reason = _("the server's default provider")
    return Effective(default.kind, None, "operator", _join(notes, reason))


def _join(notes: list[str], reason: str) -> str:
    if not notes:
        return reason
    return "; ".join([*notes, reason])

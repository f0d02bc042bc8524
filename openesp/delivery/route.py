"""Route: which provider carries each message, what holds it back before sending, and the limits.

A message goes through the effective provider of its sender (``openesp.esp.effective``): a
customer's SMTP server ("smtp"), the operator's relay ("relay"), an operator-run provider by its
kind ("sendgrid", "mailjet", any registered kind), or nowhere ("none"). Suppressed addresses are
dropped here, before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from openesp.audience.models import Suppression, SuppressionReason
from openesp.esp.effective import effective_provider
from openesp.esp.failover import failover_for
from openesp.esp.models import EspConfig
from openesp.esp.operator import operator_default
from openesp.esp.providers import registry, smtp_server_for
from openesp.esp.providers.smtp import SmtpServer
from openesp.lib.ratelimit import Limits
from openesp.messaging.models import Category, Message


@dataclass(frozen=True)
class Route:
    kind: str  # "smtp" (customer), "relay" (operator), a registered operator-run kind, "none"
    config_id: int | None
    owner: str
    reason: str


RouteCache = dict[tuple[int | None, int | None], tuple[Route, EspConfig | None]]


def route_for(message: Message, cache: RouteCache) -> tuple[Route, EspConfig | None]:
    """The route of a message's sender (cached per sender for the batch). While the provider of
    the sender's config is down and the config names a fallback, the fallback (failover)."""
    key = (message.user_id, message.organization_id)
    if key not in cache:
        effective = effective_provider(message.user, message.organization)
        kind, reason = effective.kind, effective.reason
        if kind == "smtp" and effective.config is None:
            kind = "relay"
        failover = failover_for(effective.config)
        if failover is not None:
            kind, reason = failover.kind, failover.reason
        cache[key] = (Route(kind, effective.config_id, effective.owner, reason), effective.config)
    return cache[key]


def suppressed(messages: list[Message]) -> dict[int, str]:
    """Message id → suppression reason, for non-system mail to suppressed addresses (transactional
    mail only for bounces, complaints and manual suppressions)."""
    candidates = [m for m in messages if m.category != Category.SYSTEM]
    if not candidates:
        return {}
    emails = {m.to_email.lower() for m in candidates}
    rows = Suppression.objects.filter(email__in=emails).filter(
        Q(workspace__isnull=True) | Q(workspace_id__in={m.workspace_id for m in candidates if m.workspace_id})
    )
    found: dict[tuple[int | None, str], str] = {(s.workspace_id, s.email): s.reason for s in rows}
    result: dict[int, str] = {}
    for m in candidates:
        reasons = [
            r for r in (found.get((None, m.to_email.lower())), found.get((m.workspace_id, m.to_email.lower()))) if r
        ]
        if m.category == Category.TRANSACTIONAL:
            # Opting out of bulk mail does not stop the receipts and notices a person asked for;
            # a bouncing or complaining address stops everything.
            reasons = [r for r in reasons if r != SuppressionReason.UNSUBSCRIBE]
        if reasons:
            result[m.pk] = reasons[0]
    return result


def limits_for(kind: str, config: EspConfig | None) -> Limits:
    """The sending limits of a route: the provider's own (a customer's config, or the operator's
    settings for an operator-run provider), or the relay's settings."""
    if kind == "relay":
        window = settings.OPENESP_RELAY_WINDOW
        return Limits(
            per_second=settings.OPENESP_RELAY_MAX_PER_SECOND,
            window_count=window[0] if window else None,
            window_seconds=window[1] if window else None,
            connections=settings.OPENESP_RELAY_CONNECTIONS,
        )
    cls = registry.get(kind)
    return cls.limits(config) if cls is not None else Limits()


def smtp_target(route: Route, config: EspConfig | None) -> tuple[SmtpServer, tuple[object, ...], str]:
    """The SMTP server of an "smtp" or "relay" route, the key of its connection pool, and the
    From address it imposes ("" to keep the message's own)."""
    if route.kind == "relay":
        relay = operator_default().relay
        assert relay is not None
        server = SmtpServer(relay.host, relay.port, relay.security, relay.username, relay.password, guarded=False)
        return server, ("relay", relay.host, relay.port), ""
    assert config is not None
    # A new pool when the config changes: sessions opened with old credentials must go.
    return smtp_server_for(config), ("smtp", config.pk, config.updated_at), config.from_email

"""Failover: while the chosen provider cannot be reached, its fallback carries the mail.

A config (personal or organization) may name a fallback: an operator-run provider. The worker
reports every connection-level failure (refused, timed out, TLS, SMTP 421) and every success of
a provider here (``note``); the state is a ``ProviderHealth`` row per provider, shared by every
worker process. Once a provider has failed without a success in between for
``OPENESP_FAILOVER_AFTER`` seconds, due messages of configs that name a fallback go through the
fallback, each with the reason on its record. Meanwhile one worker at a time probes the primary
every ``OPENESP_FAILOVER_PROBE_EVERY`` seconds; when a probe gets through, mail returns to it.
An organization's fallback applies wherever its config applies, so also when it enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from openesp.esp.models import EspConfig, ProviderHealth
from openesp.esp.providers import ConnectionFailed, ProviderError, TlsFailed, provider_for_config, registry


@dataclass(frozen=True)
class Failover:
    kind: str  # the fallback's kind
    reason: str  # "SendGrid unreachable since 10:02; fallback Mailjet"


def health_key(kind: str, config_id: int | None) -> str:
    """The provider a route reaches: a customer's server per config, an operator-run one by kind."""
    cls = registry.get(kind)
    if cls is not None and cls.customer_server:
        return f"{kind}:{config_id}"
    return kind


def connection_level(error: ProviderError) -> bool:
    """The provider could not be reached at all; an HTTP answer (even a 503) is not that."""
    if error.smtp_code == 421:  # the server is closing the channel: it will not take mail now
        return True
    return isinstance(error, ConnectionFailed | TlsFailed) and error.http_status is None and error.smtp_code is None


def note(failures: dict[str, str], successes: set[str], now: datetime | None = None) -> None:
    """Record what the providers did in a batch: health key → error text, and keys that sent."""
    now = now or timezone.now()
    for key in successes - set(failures):
        ProviderHealth.objects.filter(key=key).exclude(failing_since=None).update(
            failing_since=None, last_error="", probed_at=None, updated_at=now
        )
    for key, error in failures.items():
        _failed(key, error, now)


def _failed(key: str, error: str, now: datetime) -> None:
    # Two statements that each hold under concurrency: keep the first failure's time.
    updated = ProviderHealth.objects.filter(key=key).update(last_failure_at=now, last_error=error[:300], updated_at=now)
    ProviderHealth.objects.filter(key=key, failing_since=None).update(failing_since=now)
    if not updated:
        try:
            with transaction.atomic():
                ProviderHealth.objects.create(
                    key=key, failing_since=now, last_failure_at=now, last_error=error[:300], updated_at=now
                )
        except IntegrityError:  # another worker created it at the same moment
            pass


def failover_for(config: EspConfig | None, now: datetime | None = None) -> Failover | None:
    """The fallback that carries this config's mail now, or None for its own provider.

    Called by the worker: when a probe of the primary is due, this call makes it (one worker
    at a time), and a probe that gets through ends the failover at once.
    """
    now = now or timezone.now()
    failover = current_failover(config, now)
    if failover is None or config is None:
        return None
    key = health_key(config.kind, config.pk)
    if _probe_is_mine(key, now) and _probe(config, key, now):
        return None
    return failover


def current_failover(config: EspConfig | None, now: datetime | None = None) -> Failover | None:
    """The failover in force for this config, read only (for pages: no probe, no network)."""
    if config is None or not config.fallback_kind or config.fallback_kind == config.kind:
        return None
    if not registry.usable(config.fallback_kind):
        return None
    now = now or timezone.now()
    after = timedelta(seconds=settings.OPENESP_FAILOVER_AFTER)
    health = ProviderHealth.objects.filter(
        key=health_key(config.kind, config.pk), failing_since__lte=now - after
    ).first()
    if health is None or health.failing_since is None:
        return None
    primary = registry.get(config.kind)
    fallback = registry.get(config.fallback_kind)
    assert primary is not None and fallback is not None
    since = timezone.localtime(health.failing_since).strftime("%H:%M")
    return Failover(fallback.kind, f"{primary.label} unreachable since {since}; fallback {fallback.label}")


def _probe_is_mine(key: str, now: datetime) -> bool:
    """Claim this round's probe of ``key``: one worker probes, the others keep to the fallback."""
    every = timedelta(seconds=settings.OPENESP_FAILOVER_PROBE_EVERY)
    due = Q(probed_at=None) | Q(probed_at__lte=now - every)
    return ProviderHealth.objects.filter(due, key=key).update(probed_at=now) == 1


def _probe(config: EspConfig, key: str, now: datetime) -> bool:
    """Try the primary with a harmless call; True (and healthy again) when it answers."""
    try:
        provider_for_config(config).probe()
    except ProviderError as exc:
        if connection_level(exc):
            _failed(key, str(exc), now)
            return False
        # It answered (say, refused a credential): reachable again. The error is the primary's
        # own to report on the next send, not a reason to keep its mail elsewhere.
    note({}, {key}, now)
    return True


def fallback_choices() -> list[tuple[str, str]]:
    """The providers a config may fall back to: operator-run ones the operator has set up."""
    return [(cls.kind, cls.label) for cls in registry.operator_run() if cls.configured()]

"""The delivery worker: claim → route → build → send → record (DESIGN.md §4).

One worker runs one asyncio event loop that lives as long as the worker, so SMTP sessions
stay open between batches. Database work happens between sends, never while the loop runs
(the ORM is synchronous); provider HTTP calls, which block, run in the loop's thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from openesp.audience.feedback import mark_contacts
from openesp.audience.models import ContactStatus, Suppression, SuppressionAudit, SuppressionReason
from openesp.audience.unsubscribe import unsubscribe_headers
from openesp.delivery.build import job_for, message_id_for
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import signers_for
from openesp.delivery.queue import Backoff, claim, worker_name
from openesp.delivery.ratelimit import Limits, acquire, acquire_slots, release_slots
from openesp.delivery.render import BuildJob, die_with_parent, render_many
from openesp.delivery.smtppool import SmtpPool
from openesp.esp.effective import effective_provider
from openesp.esp.models import EspConfig
from openesp.esp.operator import operator_default
from openesp.esp.providers import (
    OutgoingMessage,
    Provider,
    ProviderError,
    SendResult,
    smtp_server_for,
    standard_provider,
)
from openesp.esp.providers.base import ProviderAttachment, Verdict, enhanced_status
from openesp.esp.providers.smtp import SmtpServer
from openesp.lib.htmltext import html_to_text
from openesp.messaging.models import Category, Event, EventType, Message, Status

log = logging.getLogger("openesp.worker")
SIGNER_CACHE_SECONDS = 60.0
BUILD_CHUNK = 25  # messages rendered per task: enough to amortise the hand-off, small enough to overlap

_SMTP_REPLY = re.compile(r"^(\d{3})\b")
# Enhanced status codes that say the address itself is bad (RFC 3463: 5.1.x addressing,
# 5.2.1 mailbox disabled). Only these, or a refused RCPT, put an address on the suppression
# list: a 5xx for the content or the sender is not the recipient's fault.
_ADDRESS_STATUS = re.compile(r"^5\.(1\.\d+|2\.1)\Z")


@dataclass(frozen=True)
class Route:
    kind: str  # "smtp" (customer), "relay" (operator), "sendgrid", "mailjet", "none"
    config_id: int | None
    owner: str
    reason: str


@dataclass
class Batch:
    decided: list[Outcome]  # known before sending (dropped)
    jobs: list[Coroutine[Any, Any, list[Outcome]]]  # one per route; they only send


@dataclass
class Outcome:
    message: Message
    route: Route | None
    result: SendResult | ProviderError | None = None
    dropped: str = ""  # why the message was not sent at all
    throttled: float = 0.0  # a rate limit held it back: try again after this many seconds


def _route_for(
    message: Message, cache: dict[tuple[int | None, int | None], tuple[Route, EspConfig | None]]
) -> tuple[Route, EspConfig | None]:
    key = (message.user_id, message.organization_id)
    if key not in cache:
        effective = effective_provider(message.user, message.organization)
        kind = effective.kind
        if kind == "smtp" and effective.config is None:
            kind = "relay"
        cache[key] = (Route(kind, effective.config_id, effective.owner, effective.reason), effective.config)
    return cache[key]


def _suppressed(messages: list[Message]) -> dict[int, str]:
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
    """The sending limits of a route: the customer's config, or the operator's settings."""
    if kind == "smtp" and config is not None:
        return Limits(
            per_second=config.max_per_second,
            window_count=config.window_count,
            window_seconds=config.window_seconds,
            connections=config.max_connections or settings.OPENESP_SMTP_CONNECTIONS,
        )
    prefix = {"relay": "RELAY", "sendgrid": "SENDGRID", "mailjet": "MAILJET"}.get(kind)
    if prefix is None:
        return Limits()
    window = getattr(settings, f"OPENESP_{prefix}_WINDOW")
    return Limits(
        per_second=getattr(settings, f"OPENESP_{prefix}_MAX_PER_SECOND"),
        window_count=window[0] if window else None,
        window_seconds=window[1] if window else None,
        connections=settings.OPENESP_RELAY_CONNECTIONS if kind == "relay" else None,
    )


def outgoing(message: Message, from_email: str | None = None) -> OutgoingMessage:
    """A Message for an HTTP provider. Each recipient has a Message of its own, so the copy
    says To: that recipient (the provider builds the MIME; Cc is not shown there)."""
    return OutgoingMessage(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=(message.to_email,),
        to_name=message.to_name,
        subject=message.subject,
        text=message.text_body or html_to_text(message.html_body),
        html=message.html_body,
        message_id=message_id_for(message),
        reply_to=message.reply_to,
        headers=tuple(unsubscribe_headers(message)),
        metadata={**message.metadata, "openesp_message_id": str(message.public_id)},
        attachments=tuple(
            ProviderAttachment(a.filename, bytes(a.data), a.content_type, a.content_id)
            for a in message.attachments.all()
        ),
    )


class Worker:
    def __init__(
        self,
        name: str | None = None,
        *,
        batch_size: int = 200,
        lease: timedelta = timedelta(minutes=5),
        pool_size: int = 8,
        backoff: Backoff | None = None,
        build_processes: int = 0,
    ) -> None:
        self.name = name or worker_name()
        self.batch_size = batch_size
        self.lease = lease
        self.pool_size = pool_size
        self.backoff = backoff or Backoff.from_settings()
        self.loop = asyncio.new_event_loop()
        # Separate processes render and sign while this one talks SMTP and to the database:
        # signing is CPU work, and one Python process uses one core.
        self.build_pool = (
            # spawn, not fork: this process has threads (the loop's executor), and a forked copy
            # of a threaded process can deadlock. The children die with this process, even
            # when it is killed with SIGKILL.
            ProcessPoolExecutor(
                build_processes, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
            )
            if build_processes > 0
            else None
        )
        self.pools: dict[tuple[object, ...], SmtpPool] = {}
        self._signer_cache: dict[tuple[str, int | None], tuple[float, list[DkimKey]]] = {}
        self._slot_keys: dict[tuple[object, ...], str] = {}

    # --- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, idle_sleep: float = 1.0, *, until_empty: bool = False) -> None:
        """Work until ``stop`` is set (or, with ``until_empty``, until nothing is due).

        A database thread claims and plans the next batch, and records the last one, while
        this thread's event loop sends the current batch: the database round trips no longer
        stand in series with the sending. Every batch claimed is sent and recorded before the
        worker leaves.
        """
        log.info("worker %s started", self.name)
        database = ThreadPoolExecutor(1, thread_name_prefix="openesp-db")
        try:
            pending: Future[Batch | None] | None = database.submit(self._claim_and_plan)
            recording: Future[None] | None = None
            while pending is not None:
                batch = self._result(pending)
                if batch is None:  # nothing due (or the claim failed)
                    if recording is not None:
                        self._result(recording)
                        recording = None
                    if stop.is_set() or until_empty:
                        break
                    self.loop.run_until_complete(self._close_idle())
                    database.submit(self._release_unused_slots).result()
                    stop.wait(idle_sleep)
                    pending = None if stop.is_set() else database.submit(self._claim_and_plan)
                    continue
                pending = None if stop.is_set() else database.submit(self._claim_and_plan)
                try:
                    outcomes = self._send(batch)
                except Exception:  # the batch's leases expire and another attempt sends it
                    log.exception("worker %s: sending a batch failed", self.name)
                    continue
                if recording is not None:
                    self._result(recording)
                recording = database.submit(self._record, outcomes)
            if recording is not None:
                self._result(recording)
        finally:
            self.close()
            # close_all looks the connection up in the thread it runs in (the database thread's).
            database.submit(connections.close_all).result()
            database.shutdown()
            log.info("worker %s stopped", self.name)

    def _result[T](self, future: Future[T]) -> T | None:
        try:
            return future.result()
        except Exception:  # a bad batch must not kill the worker; its leases expire
            log.exception("worker %s: database step failed", self.name)
            return None

    def _claim_and_plan(self) -> Batch | None:
        ids = claim(self.name, limit=self.batch_size, lease=self.lease)
        if not ids:
            return None
        return self._plan(self._load(ids))

    def run_once(self) -> int:
        """Claim, send and record one batch, all in this thread; returns how many it handled."""
        batch = self._claim_and_plan()
        if batch is None:
            self.loop.run_until_complete(self._close_idle())
            self._release_unused_slots()
            return 0
        outcomes = self._send(batch)
        self._record(outcomes)
        return len(outcomes)

    def _send(self, batch: Batch) -> list[Outcome]:
        return batch.decided + [o for part in self.loop.run_until_complete(_gather(batch.jobs)) for o in part]

    def _load(self, ids: list[int]) -> list[Message]:
        return list(
            Message.objects.filter(id__in=ids, lease_owner=self.name)
            .select_related("user", "organization", "workspace")
            .prefetch_related("attachments")
            .order_by("id")
        )

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.run_until_complete(_gather([pool.close() for pool in self.pools.values()]))
        self.loop.close()
        if self.build_pool is not None:
            self.build_pool.shutdown(cancel_futures=True)
        self._release_unused_slots()

    def _release_unused_slots(self) -> None:
        for pool_key, slot_key in list(self._slot_keys.items()):
            pool = self.pools.get(pool_key)
            if pool is None or pool.idle == 0:
                release_slots(slot_key, self.name)
                del self._slot_keys[pool_key]

    async def _close_idle(self) -> None:
        await asyncio.gather(*(pool.close_idle() for pool in self.pools.values()))

    # --- route and send ------------------------------------------------------------------------

    def _plan(self, messages: list[Message]) -> Batch:
        """Everything that needs the database before sending: suppressions, routes, limits,
        DKIM keys, rendering jobs. The coroutines it returns only send."""
        suppressed = _suppressed(messages)
        decided: list[Outcome] = []
        routes: dict[tuple[int | None, int | None], tuple[Route, EspConfig | None]] = {}
        groups: dict[Route, list[Message]] = defaultdict(list)
        configs: dict[Route, EspConfig | None] = {}
        for message in messages:
            route, config = _route_for(message, routes)
            if message.pk in suppressed:
                decided.append(Outcome(message, route, dropped=f"suppressed ({suppressed[message.pk]})"))
                continue
            groups[route].append(message)
            configs[route] = config
        return Batch(decided, [self._job(route, configs[route], group) for route, group in groups.items()])

    def _job(self, route: Route, config: EspConfig | None, group: list[Message]) -> Coroutine[Any, Any, list[Outcome]]:
        if route.kind == "none":
            return self._nothing(route, group)
        limits = limits_for(route.kind, config)
        key = f"{route.kind}:{route.config_id or ''}"
        grant = acquire(key, len(group), limits)
        held_back = [Outcome(m, route, throttled=grant.retry_after) for m in group[grant.granted :]]
        group = group[: grant.granted]
        if not group:
            return self._done(held_back)
        if route.kind in ("smtp", "relay"):
            try:
                server, pool_key, from_email = self._smtp_target(route, config)
            except ProviderError as exc:
                return self._fail_all(route, group, exc)
            prepared = []
            for message in group:
                sender = from_email or message.from_email
                signers = self._signers(sender, message.workspace_id)
                prepared.append((message, sender, job_for(message, from_email=sender, signers=signers)))
            pool = self.pools.get(pool_key)
            if pool is None:
                pool = self.pools[pool_key] = SmtpPool(server, timeout=float(settings.OPENESP_SMTP_TIMEOUT))
            wanted = min(self.pool_size, len(prepared), limits.connections or self.pool_size)
            slots = acquire_slots(key, self.name, wanted, limits.connections or wanted, ttl=self.lease.total_seconds())
            self._slot_keys[pool_key] = key
            if slots == 0:  # every connection this server allows is in use by other workers
                return self._done(held_back + [Outcome(m, route, throttled=1.0) for m in group])
            return self._send_smtp(route, pool, prepared, slots, held_back)
        try:
            provider = standard_provider(route.kind)
        except ProviderError as exc:
            return self._fail_all(route, group, exc)
        return self._send_http(route, provider, group, held_back)

    def _signers(self, sender: str, workspace_id: int | None) -> list[DkimKey]:
        """DKIM keys for a From domain, kept for a minute: parsing a PEM key costs ~0.1 s."""
        key = (sender.rpartition("@")[2].lower(), workspace_id)
        cached = self._signer_cache.get(key)
        now = time.monotonic()
        if cached is None or now - cached[0] > SIGNER_CACHE_SECONDS:
            cached = self._signer_cache[key] = (now, signers_for(sender, workspace_id))
        return cached[1]

    def _smtp_target(self, route: Route, config: EspConfig | None) -> tuple[SmtpServer, tuple[object, ...], str]:
        if route.kind == "relay":
            relay = operator_default().relay
            assert relay is not None
            server = SmtpServer(relay.host, relay.port, relay.security, relay.username, relay.password, guarded=False)
            return server, ("relay", relay.host, relay.port), ""
        assert config is not None
        # A new pool when the config changes: sessions opened with old credentials must go.
        return smtp_server_for(config), ("smtp", config.pk, config.updated_at), config.from_email

    async def _nothing(self, route: Route, group: list[Message]) -> list[Outcome]:
        error = ProviderError(route.reason, step="route", verdict=Verdict.TEMPORARY)
        return [Outcome(m, route, error) for m in group]

    async def _fail_all(self, route: Route, group: list[Message], error: ProviderError) -> list[Outcome]:
        return [Outcome(m, route, error) for m in group]

    async def _done(self, outcomes: list[Outcome]) -> list[Outcome]:
        return outcomes

    async def _send_smtp(
        self,
        route: Route,
        pool: SmtpPool,
        prepared: list[tuple[Message, str, BuildJob]],
        slots: int,
        held_back: list[Outcome],
    ) -> list[Outcome]:
        connections = asyncio.Semaphore(slots)

        async def one(message: Message, sender: str, data: bytes) -> Outcome:
            async with connections:
                try:
                    return Outcome(message, route, await pool.send(sender, (message.to_email,), data))
                except ProviderError as exc:
                    return Outcome(message, route, exc)

        async def chunk(items: list[tuple[Message, str, BuildJob]]) -> list[Outcome]:
            jobs = [job for _m, _s, job in items]
            if self.build_pool is None:
                rendered = render_many(jobs)
            else:
                # Rendering and signing run in the build processes while this loop keeps
                # the SMTP sessions busy with the chunks already rendered.
                rendered = await self.loop.run_in_executor(self.build_pool, render_many, jobs)
            return list(await asyncio.gather(*(one(m, s, d) for (m, s, _j), d in zip(items, rendered, strict=True))))

        size = BUILD_CHUNK
        results = await asyncio.gather(*(chunk(prepared[i : i + size]) for i in range(0, len(prepared), size)))
        await pool.trim(slots)
        return [outcome for part in results for outcome in part] + held_back

    async def _send_http(
        self, route: Route, provider: Provider, group: list[Message], held_back: list[Outcome]
    ) -> list[Outcome]:
        items = [outgoing(m) for m in group]
        results = await self.loop.run_in_executor(None, provider.send_many, items)
        return [Outcome(m, route, r) for m, r in zip(group, results, strict=True)] + held_back

    # --- record --------------------------------------------------------------------------------

    def _record(self, outcomes: list[Outcome]) -> None:
        now = timezone.now()
        events: list[Event] = []
        suppressions: list[Suppression] = []
        changed: list[Message] = []
        with transaction.atomic():
            ids = [o.message.pk for o in outcomes]
            # Only rows still leased to us: if our lease ran out and another worker took a
            # message, its record wins and ours is dropped.
            mine = set(
                Message.objects.select_for_update()
                .filter(id__in=ids, lease_owner=self.name, status=Status.SENDING)
                .values_list("id", flat=True)
            )
            for outcome in outcomes:
                message = outcome.message
                if message.pk not in mine:
                    continue
                self._apply(outcome, now, events, suppressions)
                changed.append(message)
            _write_back(changed)
            Event.objects.bulk_create(events, batch_size=500)
            _suppress(suppressions)
            # In the same transaction: a contact is never "active" while its address is suppressed
            # for a hard bounce.
            mark_contacts(
                ((s.workspace_id, s.email) for s in suppressions if s.workspace_id), ContactStatus.BOUNCED, now
            )

    def _apply(self, outcome: Outcome, now: datetime, events: list[Event], suppressions: list[Suppression]) -> None:
        message, route, result = outcome.message, outcome.route, outcome.result
        message.lease_owner, message.lease_until, message.updated_at = "", None, now
        if outcome.throttled:
            # Not an attempt: back in the queue for when the limit allows more.
            message.status = Status.QUEUED if message.attempts <= 1 else Status.DEFERRED
            message.not_before = now + timedelta(seconds=outcome.throttled)
            message.attempts -= 1
            return
        if route is not None:
            message.provider_kind = route.kind
            message.provider_config_id = route.config_id
            message.provider_reason = route.reason[:300]
        if outcome.dropped:
            message.status = Status.DROPPED
            events.append(Event(message=message, type=EventType.DROPPED, created_at=now, detail=outcome.dropped))
            return
        if isinstance(result, SendResult):
            code = _SMTP_REPLY.match(result.detail)
            message.status = Status.SENT
            message.sent_at = now
            message.provider_message_id = result.provider_message_id[:200]
            message.last_smtp_code = int(code.group(1)) if code else None
            message.last_response = result.detail
            events.append(
                Event(
                    message=message,
                    type=EventType.SENT,
                    created_at=now,
                    smtp_code=message.last_smtp_code,
                    enhanced_status=(enhanced_status(result.detail[4:]) or "") if code else "",
                    detail=result.detail,
                    data={"provider": message.provider_kind, "reason": message.provider_reason},
                )
            )
            return
        assert isinstance(result, ProviderError)
        message.last_smtp_code = result.smtp_code
        message.last_response = f"{result.step}: {result}"
        data = {"step": result.step, "provider": message.provider_kind, "verdict": str(result.verdict)}
        if result.http_status is not None:
            data["http_status"] = str(result.http_status)
        if result.temporary and not self.backoff.expired(message.created_at, now):
            message.status = Status.DEFERRED
            message.not_before = self.backoff.next_attempt(message.attempts, now)
            event_type = EventType.DEFERRED
            detail = str(result)
        else:
            message.status = Status.BOUNCED
            event_type = EventType.BOUNCED
            if result.temporary:
                data["bounce"] = "expired"
                hours = self.backoff.lifetime.total_seconds() / 3600
                detail = f"expired: gave up after {hours:g} hours; last error: {result}"
            else:
                data["bounce"] = "hard"
                detail = str(result)
        event = Event(
            message=message,
            type=event_type,
            created_at=now,
            smtp_code=result.smtp_code,
            enhanced_status=result.enhanced_status or "",
            detail=detail,
            data=data,
        )
        events.append(event)
        if event_type == EventType.BOUNCED and not result.temporary and message.workspace_id and _about_address(result):
            suppressions.append(
                Suppression(
                    workspace_id=message.workspace_id,
                    email=message.to_email.lower(),
                    reason=SuppressionReason.HARD_BOUNCE,
                    detail=detail[:1000],
                    source_event=event,  # saved first: bulk_create gives it its id
                    created_at=now,
                )
            )


def _suppress(suppressions: list[Suppression]) -> None:
    """Add the hard-bounce suppressions of a batch, each new one with its audit row.

    Addresses suppressed already keep their first suppression and get no second audit row.
    """
    if not suppressions:
        return
    wanted = {(s.workspace_id, s.email): s for s in suppressions}  # one per address, the last bounce
    existing = set(
        Suppression.objects.filter(
            workspace_id__in={w for w, _e in wanted}, email__in={e for _w, e in wanted}
        ).values_list("workspace_id", "email")
    )
    new = [s for key, s in wanted.items() if key not in existing]
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    SuppressionAudit.objects.bulk_create(
        SuppressionAudit(
            workspace_id=s.workspace_id,
            email=s.email,
            action=SuppressionAudit.Action.ADD,
            reason=s.reason,
            source="delivery",
            source_detail=s.detail[:200],
            created_at=s.created_at,
        )
        for s in new
    )


_WRITE_BACK_FIELDS = (
    "status", "attempts", "not_before", "lease_owner", "lease_until", "provider_kind", "provider_config_id",
    "provider_reason", "provider_message_id", "last_smtp_code", "last_response", "sent_at", "updated_at",
)  # fmt: skip


def _write_back(messages: list[Message]) -> None:
    """One prepared UPDATE executed for many rows.

    Django's ``bulk_update`` builds a CASE expression per field and row: about 20 ms per
    message here, which would cap the worker at a few dozen messages a second.
    """
    if not messages:
        return
    ops = connection.ops
    columns = ", ".join(f"{name} = %s" for name in _WRITE_BACK_FIELDS)
    sql = f"UPDATE {Message._meta.db_table} SET {columns} WHERE id = %s"  # noqa: S608 - our own names only
    rows = []
    for m in messages:
        values = [getattr(m, name) for name in _WRITE_BACK_FIELDS]
        rows.append([ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in values] + [m.pk])
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


async def _gather[T](coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    # gather() must be called inside the worker's loop, not merely passed to it.
    return list(await asyncio.gather(*coroutines))


def _about_address(error: ProviderError) -> bool:
    if error.enhanced_status:
        return bool(_ADDRESS_STATUS.match(error.enhanced_status))
    return error.step == "recipient" and error.smtp_code is not None and error.smtp_code >= 500

"""The delivery worker: claim → route → build → send → record.

This module orchestrates; each step has its module: ``claim`` (take due messages under a lease),
``route`` (which provider, suppressions, limits), ``build`` (the bytes or the API message),
``record`` (write the outcomes back). Campaign messages are prepared while the batch is planned
(``build.campaign_content``) and rendered per recipient where they are built; a batch's jobs
are handed to the build processes as soon as it is planned. Between claims, at most once every
``schedule_every`` seconds, the worker runs the campaign scheduler (``campaigns.scheduling.run_due``:
campaign starts, scheduled reminders, campaigns finished), the outbound webhooks due and one due
bounce mailbox (``events.mailbox.poll_due``). One worker runs one asyncio event loop that lives as long
as the worker, so SMTP sessions stay open between batches. Database work happens between sends,
never while the loop runs (the ORM is synchronous); provider HTTP calls, which block, run in the
loop's thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections

from openesp.campaigns.campaigns import HELD
from openesp.campaigns.render import Held, NotSendable, Prepared, RenderedMessage
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import TemplateError
from openesp.delivery.build import SignerCache, campaign_content, job_for, outgoing, raw_contents, rendered_here
from openesp.delivery.buildpool import BuildPool
from openesp.delivery.claim import claim_batch
from openesp.delivery.heartbeat import Heartbeat, LetGo
from openesp.delivery.once import Marks
from openesp.delivery.queue import Backoff, reclaim_dead_leases
from openesp.delivery.record import Outcome, record
from openesp.delivery.render import BuildJob, Built, render_many
from openesp.delivery.route import Route, RouteCache, limits_for, route_for, smtp_target, suppressed
from openesp.delivery.smtppool import SmtpPool
from openesp.esp.models import EspConfig
from openesp.esp.providers import Provider, ProviderError, SendResult, standard_provider
from openesp.esp.providers.base import Verdict
from openesp.events.mailbox import poll_due
from openesp.events.process import drain
from openesp.events.verp import return_path
from openesp.hooksout.deliver import deliver_due
from openesp.lib.ratelimit import acquire, acquire_slots, release_slots
from openesp.lib.workers import worker_name
from openesp.messaging.models import AT_MOST_ONCE, Message

log = logging.getLogger("openesp.worker")
# Messages built per task of a build process: fewer, larger tasks cut the hand-offs; measured
# on the campaign bench, 50 beat both 25 (the old size) and 100 (the SMTP sessions wait longer
# for a batch's first messages).
BUILD_CHUNK = 50
SCHEDULE_EVERY = 1.0  # seconds between two runs of the campaign scheduler by one worker
# After a batch that did not fill (the queue is drained), the least time before the next claim:
# messages arriving meanwhile go out together in one batch, and the added wait is below the
# idle poll's (``run``'s idle_sleep, 1 s).
GATHER = 0.2
# Short, because the heartbeat renews it: a worker that dies on another host leaves its
# messages for at most this long (one restarted on the same host takes them back at once).
DEFAULT_LEASE = timedelta(seconds=30)
# A record step that fails (the database away for a moment, a deadlock) is tried again after
# these pauses before its batch is let go: letting go means sending the batch again.
RECORD_RETRY_DELAYS = (1.0, 5.0)


# A chunk of a batch's messages (with their senders) and what building them gives, or will.
Chunk = tuple[list[tuple[Message, str]], Future[list[Built]] | list[Built]]


@dataclass
class Batch:
    decided: list[Outcome]  # known before sending (dropped)
    jobs: list[Coroutine[Any, Any, list[Outcome]]]  # one per route; they only send
    once: bool = False  # it holds at-most-once messages (marked before they are sent)
    ids: list[int] = field(default_factory=list)  # of every message claimed for it


class Worker:
    def __init__(
        self,
        name: str | None = None,
        *,
        batch_size: int = 200,
        lease: timedelta = DEFAULT_LEASE,
        pool_size: int = 8,
        backoff: Backoff | None = None,
        build_processes: int = 0,
        schedule_every: float = SCHEDULE_EVERY,
        gather: float = GATHER,
    ) -> None:
        self.name = name or worker_name()
        self.batch_size = batch_size
        self.lease = lease
        self.pool_size = pool_size
        self.backoff = backoff or Backoff.from_settings()
        self.loop = asyncio.new_event_loop()
        # Separate processes render and sign while this one talks SMTP and to the database:
        # signing is CPU work, and one Python process uses one core.
        self.build_pool = BuildPool(build_processes) if build_processes > 0 else None
        self.pools: dict[tuple[object, ...], SmtpPool] = {}
        self.signers = SignerCache()
        self.marks = Marks(self.name)  # at-most-once categories: committed before they are sent
        self._slot_keys: dict[tuple[object, ...], str] = {}
        self.schedule_every = schedule_every
        self.gather = gather
        self.let_go = LetGo(lease)  # leases the heartbeat no longer renews
        self.record_retry_delays = RECORD_RETRY_DELAYS
        self._scheduled_at = float("-inf")  # monotonic time of the last scheduler run
        self._turned_at = time.monotonic()  # of the run loop's latest turn (the heartbeat's sign of life)
        self._inbox_backlog = False  # the last inbox turn ran out of time with rows left

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
        heartbeat = Heartbeat(self.name, self.lease, lambda: self._turned_at, self.let_go)
        heartbeat.start()
        try:
            self._reclaim(database)
            pending: Future[Batch | None] | None = database.submit(self._claim_and_plan)
            recording: Future[None] | None = None
            while pending is not None:
                self._turned_at = time.monotonic()
                batch = self._result(pending)
                if batch is None:  # nothing due (or the claim failed)
                    if recording is not None:
                        self._result(recording)
                        recording = None
                    if stop.is_set():
                        break
                    if until_empty:
                        # Everything claimed is recorded: what that finished (a campaign now
                        # sent) or what is due now (a campaign to start) shows in this run.
                        if database.submit(self._run_due, force=True).result():
                            pending = database.submit(self._claim_and_plan)
                            continue
                        break
                    self.loop.run_until_complete(self._close_idle())
                    database.submit(self._release_unused_slots).result()
                    # No pause while provider events wait in the inbox: the next turn drains more.
                    stop.wait(0 if self._inbox_backlog else idle_sleep)
                    pending = None if stop.is_set() else database.submit(self._claim_and_plan)
                    continue
                # A batch short of batch_size has drained the queue: the next claim waits a
                # moment (``gather``) for more to arrive, rather than claim at once the few that
                # came meanwhile and pay a claim's fixed cost (its queries, the scheduler's and the
                # inbox's turn, the record) for every handful. (A run until empty drains at once.)
                partial = len(batch.ids) < self.batch_size and not until_empty
                claimed_at = time.monotonic()
                pending = None if stop.is_set() or partial else database.submit(self._claim_and_plan)
                try:
                    outcomes = self._send(batch)
                except Exception:  # its leases run out and another attempt sends it
                    log.exception("worker %s: sending a batch failed; it will be sent again", self.name)
                    self.let_go.add(batch.ids)
                else:
                    if recording is not None:
                        self._result(recording)
                    recording = database.submit(self._record, outcomes)
                if partial and not stop.wait(max(0.0, self.gather - (time.monotonic() - claimed_at))):
                    pending = database.submit(self._claim_and_plan)
            if recording is not None:
                self._result(recording)
        finally:
            heartbeat.stop()
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

    def _run_due(self, *, force: bool = False) -> bool:
        """The campaign scheduler, at most once every ``schedule_every`` seconds (unless
        ``force``). Every job of it is claimed by a conditional UPDATE in the database, so any
        number of workers may call it at once. True when it did something.
        Before it, every time: provider events and bounce mail waiting in the inbox, for at
        most a second (``events.process.drain``; its rows are claimed with SKIP LOCKED)."""
        inbox = self._work_inbox()
        started = time.monotonic()
        if not force and started - self._scheduled_at < self.schedule_every:
            return inbox
        self._scheduled_at = started
        try:
            did = bool(run_due()) or inbox
        except Exception:  # the jobs stay due; the next run tries again
            log.exception("worker %s: the campaign scheduler failed", self.name)
            did = inbox
        try:  # outbound webhooks (hooksout): due deliveries, in order per message
            did = bool(deliver_due()) or did
        except Exception:  # the deliveries stay pending; the next run tries again
            log.exception("worker %s: delivering webhooks failed", self.name)
        try:  # the bounce mailboxes of custom SMTP configurations: one due mailbox per run
            did = any(polled.stored for polled in poll_due()) or did
        except Exception:  # the mailbox's lease runs out and it is polled again
            log.exception("worker %s: polling a bounce mailbox failed", self.name)
        return did

    def _work_inbox(self) -> bool:
        self._inbox_backlog = False
        try:
            drained = drain(budget=1.0)
        except Exception:  # the rows stay pending; the next turn tries again
            log.exception("worker %s: processing provider events failed", self.name)
            return False
        self._inbox_backlog = drained.backlog
        return drained.handled > 0

    def _claim_and_plan(self) -> Batch | None:
        self._run_due()
        messages = claim_batch(self.name, limit=self.batch_size, lease=self.lease)
        if not messages:
            return None
        self.let_go.discard(m.pk for m in messages)  # let go once, claimed anew: renewed as any other
        try:
            return self._plan(messages)
        except Exception:  # claimed and never sent: their leases must run out
            self.let_go.add(m.pk for m in messages)
            raise

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
        if batch.once:
            self.marks.bind()
        return batch.decided + [o for part in self.loop.run_until_complete(_gather(batch.jobs)) for o in part]

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.run_until_complete(_gather([pool.close() for pool in self.pools.values()]))
        self.loop.close()
        self.marks.close()
        if self.build_pool is not None:
            self.build_pool.shutdown(cancel_futures=True)
        self._release_unused_slots()

    def _reclaim(self, database: ThreadPoolExecutor) -> None:
        """Take back the leases of this host's dead workers (``reclaim_dead_leases``); a failure
        only means they wait out their leases, so it does not stop the worker."""
        try:
            reclaimed = database.submit(reclaim_dead_leases).result()
        except Exception:
            log.exception("worker %s: taking back the leases of dead workers failed", self.name)
            return
        if reclaimed:
            log.info("worker %s: took back %d messages of dead workers on this host", self.name, reclaimed)

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
        DKIM keys, campaign content, rendering jobs. The coroutines it returns only send."""
        held = suppressed(messages)
        content = campaign_content([m for m in messages if m.pk not in held])
        prepared: dict[int, Prepared] = {}
        decided: list[Outcome] = []
        routes: RouteCache = {}
        groups: dict[Route, list[Message]] = defaultdict(list)
        configs: dict[Route, EspConfig | None] = {}
        for message in messages:
            route, config = route_for(message, routes)
            if message.pk in held:
                decided.append(Outcome(message, route, dropped=f"suppressed ({held[message.pk]})"))
                continue
            result = content.get(message.pk)
            if isinstance(result, Prepared):
                prepared[message.pk] = result
            elif result is not None:
                decided.append(_not_rendered(message, route, result))
                continue
            groups[route].append(message)
            configs[route] = config
        jobs = [self._job(route, configs[route], group, prepared) for route, group in groups.items()]
        once = any(m.category in AT_MOST_ONCE for m in messages)
        return Batch(decided, jobs, once=once, ids=[m.pk for m in messages])

    def _job(
        self, route: Route, config: EspConfig | None, group: list[Message], prepared: dict[int, Prepared]
    ) -> Coroutine[Any, Any, list[Outcome]]:
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
                server, pool_key, from_email = smtp_target(route, config)
            except ProviderError as exc:
                return self._fail_all(route, group, exc)
            jobs = []
            raws = raw_contents(group)  # mail that came in over SMTP: its shared bytes, read once
            for message in group:
                sender = from_email or message.from_email
                signers = self.signers.signers(sender, message.workspace_id)
                job = job_for(message, from_email=sender, signers=signers, prepared=prepared.get(message.pk), raws=raws)
                jobs.append((message, sender, job))
            pool = self.pools.get(pool_key)
            if pool is None:
                pool = self.pools[pool_key] = SmtpPool(server, timeout=float(settings.OPENESP_SMTP_TIMEOUT))
            wanted = min(self.pool_size, len(jobs), limits.connections or self.pool_size)
            slots = acquire_slots(key, self.name, wanted, limits.connections or wanted, ttl=self.lease.total_seconds())
            self._slot_keys[pool_key] = key
            if slots == 0:  # every connection this server allows is in use by other workers
                return self._done(held_back + [Outcome(m, route, throttled=1.0) for m in group])
            return self._send_smtp(route, pool, self._build(jobs), slots, held_back)
        try:
            provider = standard_provider(route.kind)
        except ProviderError as exc:
            return self._fail_all(route, group, exc)
        # An HTTP provider takes parts, not bytes: campaign messages are rendered here.
        rendered: dict[int, RenderedMessage] = {}
        for message in group:
            if message.pk in prepared:
                result = rendered_here(prepared[message.pk])
                if isinstance(result, TemplateError):
                    held_back.append(_not_rendered(message, route, result))
                    continue
                rendered[message.pk] = result
                message.subject = result.subject  # kept for the message log (not the body)
        group = [m for m in group if m.pk not in prepared or m.pk in rendered]
        return self._send_http(route, provider, group, held_back, rendered)

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
        jobs: list[Chunk],
        slots: int,
        held_back: list[Outcome],
    ) -> list[Outcome]:
        connections = asyncio.Semaphore(slots)

        async def one(message: Message, sender: str, built: Built) -> Outcome:
            data, subject, failed = built
            if failed:  # the template failed for this contact: this message only
                return _not_rendered(message, route, failed)
            message.subject = subject  # a campaign message's, rendered: kept for the message log
            once = message.category in AT_MOST_ONCE
            async with connections:
                # Marked once it holds a connection, right before its transaction: only the
                # messages being sent at this moment are at stake if the worker dies now.
                if once and not await self._may_send([message]):
                    return Outcome(message, route, throttled=1.0)
                try:
                    # The envelope sender: the message's VERP address when a bounce domain is set.
                    envelope = return_path(message.public_id, sender)
                    result = await pool.send(envelope, (message.to_email,), data)
                    outcome = Outcome(message, route, result, sender=sender)
                except ProviderError as exc:
                    return Outcome(message, route, exc, sender=sender)
            if once:
                await self._accepted([message])
            return outcome

        async def chunk(items: list[tuple[Message, str]], built: Future[list[Built]] | list[Built]) -> list[Outcome]:
            if isinstance(built, Future):
                built = await asyncio.wrap_future(built)
            return await _gather([one(m, s, b) for (m, s), b in zip(items, built, strict=True)])

        results = await asyncio.gather(*(chunk(items, built) for items, built in jobs))
        await pool.trim(slots)
        return [outcome for part in results for outcome in part] + held_back

    def _build(self, jobs: list[tuple[Message, str, BuildJob]]) -> list[Chunk]:
        """The batch's jobs in chunks, each handed to the build processes now, while the batch is
        planned (the database thread): they build it while the event loop still sends the
        previous batch, so they never wait for a batch's last SMTP transactions. Without build
        processes, built here."""
        chunks: list[Chunk] = []
        for i in range(0, len(jobs), BUILD_CHUNK):
            part = jobs[i : i + BUILD_CHUNK]
            items, chunk = [(m, s) for m, s, _j in part], [job for _m, _s, job in part]
            if self.build_pool is None:
                chunks.append((items, render_many(chunk)))
            else:
                chunks.append((items, self.build_pool.executor.submit(render_many, chunk)))
        return chunks

    async def _send_http(
        self,
        route: Route,
        provider: Provider,
        group: list[Message],
        held_back: list[Outcome],
        rendered: dict[int, RenderedMessage],
    ) -> list[Outcome]:
        once = [m for m in group if m.category in AT_MOST_ONCE]
        if once:  # one call carries the group: its at-most-once messages are marked together
            allowed = {m.pk for m in await self._may_send(once)}
            held_back += [Outcome(m, route, throttled=1.0) for m in once if m.pk not in allowed]
            group = [m for m in group if m.category not in AT_MOST_ONCE or m.pk in allowed]
        items = [outgoing(m, rendered=rendered.get(m.pk)) for m in group]
        results = await self.loop.run_in_executor(None, provider.send_many, items)
        senders = (item.from_email for item in items)
        outcomes = [Outcome(m, route, r, sender=f) for m, r, f in zip(group, results, senders, strict=True)]
        if once:
            await self._accepted(
                [o.message for o in outcomes if o.message.category in AT_MOST_ONCE and isinstance(o.result, SendResult)]
            )
        return outcomes + held_back

    async def _may_send(self, messages: list[Message]) -> list[Message]:
        """Commit the start mark of these at-most-once messages; those that may be sent now.
        One still leased to another worker is not ours to send (its outcome is not recorded);
        one whose mark could not be written waits in the queue (not an attempt)."""
        try:
            kept = await self.marks.started([m.pk for m in messages])
        except Exception:
            log.exception("worker %s: marking messages as being sent failed; they wait", self.name)
            return []
        return [m for m in messages if m.pk in kept]

    async def _accepted(self, messages: list[Message]) -> None:
        try:
            await self.marks.accepted([m.pk for m in messages])
        except Exception:  # the batch's record says sent unless the worker dies first
            log.exception("worker %s: marking messages as accepted failed", self.name)

    def _record(self, outcomes: list[Outcome]) -> None:
        """``record``, tried again after each of ``record_retry_delays``; should every try fail,
        the batch is let go (``LetGo``): it is sent again, instead of staying ``sending`` under a
        lease this worker's heartbeat would renew for as long as it lives. Raises the last error."""
        for delay in (*self.record_retry_delays, None):
            try:
                record(outcomes, self.name, self.backoff)
                return
            except Exception:
                # A connection the failure broke is replaced before the next try.
                connection.close_if_unusable_or_obsolete()
                if delay is None:
                    self.let_go.add(o.message.pk for o in outcomes)
                    log.error("worker %s: recording a batch failed for good; it will be sent again", self.name)
                    raise
                log.exception("worker %s: recording a batch failed; trying again in %.0f s", self.name, delay)
                time.sleep(delay)


def _not_rendered(message: Message, route: Route, reason: NotSendable | Held | TemplateError | str) -> Outcome:
    """The outcome of a campaign message that is not sent now (``campaigns.render``'s contract)."""
    if isinstance(reason, Held):  # the campaign is paused: back in the queue until it resumes
        return Outcome(message, route, held=HELD)
    if isinstance(reason, NotSendable):  # the contact was erased, the campaign cancelled
        return Outcome(message, route, dropped=str(reason))
    # A template that fails for this contact fails this message only (bounced, with the reason).
    return Outcome(message, route, ProviderError(str(reason), step="render", verdict=Verdict.PERMANENT))


async def _gather[T](coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    # gather() must be called inside the worker's loop, not merely passed to it.
    return list(await asyncio.gather(*coroutines))

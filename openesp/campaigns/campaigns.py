"""Campaign actions: create, schedule, pause, resume, cancel.

States: ``draft → scheduled → sending → sent``, plus ``paused`` (from scheduled or sending) and
``cancelled`` (from anything not finished). Every transition is one conditional UPDATE on the
campaign row, so two requests (or a request and the scheduler) racing each other cannot both
win; the loser gets ``Conflict``.

A paused campaign's queued messages are held by moving their ``not_before`` to ``HELD`` (far in
the future: the delivery worker's claim never reaches it); resume puts them back. Cancel takes
every queued message of the campaign off the queue with a ``cancelled`` event, set-wise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import DateTimeField, JSONField, Q, QuerySet, Value
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import normalise_email, time_zones
from openesp.audience.models import ContactList, Segment
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, TemplateVersion
from openesp.campaigns.sql import insert_select
from openesp.campaigns.templates import campaign_template_problems
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.models import DUE_STATUSES, Event, EventType, Message, Status
from openesp.messaging.senders import SenderNotAllowed, check_sender

HELD = datetime(9999, 12, 31, tzinfo=UTC)  # not_before of the messages of a paused campaign
PAST_GRACE = timedelta(minutes=1)  # a send_at this much in the past is taken as "now"
_URL_SCHEMES = ("https://", "http://")

# Which states each action may start from.
SCHEDULABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
PAUSABLE = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)
CANCELLABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)


# --- creating ----------------------------------------------------------------------------------


def _same_workspace(workspace: Workspace, objects: Iterable[ContactList | Segment | TemplateVersion | None]) -> bool:
    for obj in objects:
        if obj is None:
            continue
        owner = obj.template.workspace_id if isinstance(obj, TemplateVersion) else obj.workspace_id
        if owner != workspace.pk:
            return False
    return True


def _clean_url(value: str, field: str, problems: list[FieldProblem]) -> str:
    value = value.strip()
    if value and (not value.startswith(_URL_SCHEMES) or len(value) > 2000 or any(c.isspace() for c in value)):
        problems.append(FieldProblem(field, "must be an http or https URL of at most 2,000 characters"))
    return value


def create_campaign(
    workspace: Workspace,
    actor: User,
    *,
    name: str,
    template_version: TemplateVersion,
    from_email: str,
    from_name: str = "",
    reply_to: str = "",
    lists: Iterable[ContactList] = (),
    segment: Segment | None = None,
    response_url: str = "",
    receipt_version: TemplateVersion | None = None,
    tracking: dict[str, bool] | None = None,
) -> Campaign:
    """A draft campaign. The caller looked up the lists, the segment and the template versions
    through the tenant; ``actor`` is the user whose effective provider will carry the mail."""
    lists = list(lists)
    if not _same_workspace(workspace, [*lists, segment, template_version, receipt_version]):
        raise ValueError("a campaign's lists, segment and templates belong to its workspace")
    problems: list[FieldProblem] = []
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name or len(clean_name) > 200:
        problems.append(FieldProblem("name", "is required, at most 200 characters"))
    sender = ""
    try:
        sender, _key = normalise_email(from_email, "from")
        check_sender(actor, workspace.organization, workspace, sender)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    except SenderNotAllowed as exc:
        problems.append(FieldProblem("from", str(exc)))
    clean_reply_to = ""
    if reply_to.strip():
        try:
            clean_reply_to, _key = normalise_email(reply_to, "reply_to")
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if len(from_name) > 200 or "\n" in from_name or "\r" in from_name:
        problems.append(FieldProblem("from_name", "must be one line of at most 200 characters"))
    clean_response_url = _clean_url(response_url, "response_url", problems)
    problems += campaign_template_problems(("template_id", template_version), ("receipt_template_id", receipt_version))
    if problems:
        raise InvalidInput(problems)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            workspace=workspace,
            name=clean_name,
            template_version=template_version,
            receipt_version=receipt_version,
            from_email=sender,
            from_name=from_name.strip(),
            reply_to=clean_reply_to,
            segment=segment,
            response_url=clean_response_url,
            tracking=tracking or {},  # {"opens", "clicks"}; a key absent: the workspace's default
            created_by=actor,
        )
        campaign.lists.set(lists)
    return campaign


# --- transitions -------------------------------------------------------------------------------


def _transition(
    campaign: Campaign, allowed: Iterable[str], new: str, verb: str, *, now: datetime, **changes: object
) -> None:
    """Move ``campaign`` from one of ``allowed`` to ``new`` in one conditional UPDATE (in the
    caller's transaction), or raise Conflict naming the state it is in."""
    done = Campaign.objects.filter(pk=campaign.pk, status__in=list(allowed)).update(
        status=new, updated_at=now, **changes
    )
    campaign.refresh_from_db()
    if not done:
        raise Conflict(f"a {campaign.status} campaign cannot be {verb}")


def local_send_at(send_at: datetime, time_zone: str) -> datetime:
    """``send_at`` (a local date and time) in the IANA zone ``time_zone``, as an aware datetime.

    InvalidInput for an unknown zone or a local time the clocks skip (the spring change)."""
    if time_zone not in time_zones():
        raise InvalidInput.one("time_zone", "is not an IANA time zone name (e.g. Europe/Stockholm)")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.one("time_zone", "is not an IANA time zone name (e.g. Europe/Stockholm)") from None
    if send_at.tzinfo is not None:
        return send_at.astimezone(zone)
    local = send_at.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != send_at:
        raise InvalidInput.one("send_at", f"does not exist in {time_zone} (the clocks skip it)")
    return local


def schedule_campaign(
    campaign: Campaign,
    *,
    send_at: datetime | None = None,
    time_zone: str = "",
    now: datetime | None = None,
) -> Campaign:
    """Schedule ``campaign`` for ``send_at`` (a local time in ``time_zone``), or for now when
    ``send_at`` is None. A draft or an already scheduled campaign (then: a new time)."""
    now = now or timezone.now()
    if send_at is None:
        when, zone_name = now, time_zone
    else:
        if not time_zone and send_at.tzinfo is None:
            raise InvalidInput.one("time_zone", "is required with send_at")
        when = local_send_at(send_at, time_zone or "UTC")
        zone_name = time_zone or "UTC"
        if when < now - PAST_GRACE:
            raise InvalidInput.one("send_at", "is in the past")
    if not campaign.lists.exists() and campaign.segment_id is None:
        raise InvalidInput.one("lists", "the campaign has no audience: choose lists or a segment")
    with transaction.atomic():
        _transition(campaign, SCHEDULABLE, CampaignStatus.SCHEDULED, "scheduled", now=now, send_at=when,
                    time_zone=zone_name)  # fmt: skip
    return campaign


def _campaign_messages(campaign: Campaign) -> Q:
    return Q(id__in=CampaignMessage.objects.filter(campaign=campaign).values("message_id"))


def pause_campaign(campaign: Campaign, *, now: datetime | None = None) -> Campaign:
    """Stop sending: no queued message of the campaign is claimed from now on. Messages a
    worker holds already are sent."""
    now = now or timezone.now()
    with transaction.atomic():
        _transition(campaign, PAUSABLE, CampaignStatus.PAUSED, "paused", now=now)
        Message.objects.filter(_campaign_messages(campaign), status__in=DUE_STATUSES).update(
            not_before=HELD, updated_at=now
        )
    return campaign


def resume_campaign(campaign: Campaign, *, now: datetime | None = None) -> Campaign:
    """Continue a paused campaign: sending again if it had started, else scheduled as before."""
    now = now or timezone.now()
    with transaction.atomic():
        new = CampaignStatus.SENDING if campaign.started_at is not None else CampaignStatus.SCHEDULED
        _transition(campaign, [CampaignStatus.PAUSED], new, "resumed", now=now)
        Message.objects.filter(_campaign_messages(campaign), status__in=DUE_STATUSES, not_before=HELD).update(
            not_before=now, updated_at=now
        )
    return campaign


def cancel_campaign(campaign: Campaign, *, now: datetime | None = None) -> Campaign:
    """Cancel: every queued message of the campaign is taken off the queue (a ``cancelled``
    event each); messages a worker holds already are sent."""
    now = now or timezone.now()
    with transaction.atomic():
        _transition(campaign, CANCELLABLE, CampaignStatus.CANCELLED, "cancelled", now=now, finished_at=now)
        cancel_queued(Message.objects.filter(_campaign_messages(campaign)), now, "the campaign was cancelled")
    return campaign


def cancel_queued(messages: QuerySet[Message], now: datetime, detail: str) -> int:
    """Take the due ones among ``messages`` (a Message queryset) off the queue, set-wise.

    The UPDATE is conditional on the status, as a worker's claim is: a message either becomes
    ``cancelled`` here or ``sending`` there. The events are written for exactly the rows this
    UPDATE changed (those it stamped with ``now``)."""
    taken = messages.filter(status__in=DUE_STATUSES).update(
        status=Status.CANCELLED, updated_at=now, lease_owner="", lease_until=None
    )
    if taken:
        rows = messages.filter(status=Status.CANCELLED, updated_at=now).annotate(
            x_type=Value(EventType.CANCELLED.value),
            x_at=Value(now, DateTimeField()),
            x_detail=Value(detail),
            x_empty=Value(""),
            x_data=Value({}, JSONField()),
        )
        insert_select(
            Event,
            ["message", "type", "created_at", "detail", "enhanced_status", "data"],
            rows.values_list("id", "x_type", "x_at", "x_detail", "x_empty", "x_data"),
        )
    return taken


def paused_messages(message_ids: list[int]) -> set[int]:
    """Of these campaign messages, the ones whose campaign is paused now.

    For the delivery worker, which found them paused when it planned its batch and puts them
    back on hold: called in the transaction that does, it locks their campaigns' rows first, so
    a resume or cancel running at the same time either comes after the hold (and releases or
    cancels it, as it does every held message) or before this look-up (which then no longer
    finds the campaign paused, and the worker puts the message back as due)."""
    campaign_of = dict(
        CampaignMessage.objects.filter(message_id__in=message_ids).values_list("message_id", "campaign_id")
    )
    statuses = dict(
        Campaign.objects.select_for_update()
        .filter(pk__in=set(campaign_of.values()))
        .order_by("pk")
        .values_list("pk", "status")
    )
    return {m for m, c in campaign_of.items() if statuses.get(c) == CampaignStatus.PAUSED}

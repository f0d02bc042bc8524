"""Category messages: a one-off mail to every contact subscribed to a category of the
preference centre (category ``category_message``), sent now or at a local time in a named zone.

A category message owns a container ``Campaign`` (kind ``category_message``;
docs/decisions/008-automations.md) that holds the sender, the pinned template version, the
schedule, the state (``scheduled → sending → sent``, ``cancelled``) and the counts. When it is
due, ``start_category_message`` claims it (``scheduled → sending``, a conditional UPDATE) and,
in that transaction, freezes the audience set-wise — the contacts subscribed to the category,
active, whose address no suppression names — and queues one message per recipient without a
body (``campaigns.recipients.queue_messages``; rendered at send time by ``campaigns.render``).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, DateTimeField, Exists, IntegerField, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.models import Contact, ContactStatus, ContactTopic, Suppression, Topic
from openesp.audience.models import SuppressionReason as Reason
from openesp.campaigns.automations import _check_sender
from openesp.campaigns.campaigns import PAST_GRACE, cancel_campaign, local_send_at
from openesp.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignMessage,
    CampaignStatus,
    CategoryMessage,
    Purpose,
    Recipient,
    TemplateVersion,
)
from openesp.campaigns.queueing import queue_messages
from openesp.campaigns.sql import insert_select
from openesp.campaigns.templates import campaign_template_problems
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.models import DUE_STATUSES, Category, Message, Status

SENT_STATUSES = (Status.SENT, Status.DELIVERED)


def create_category_message(
    workspace: Workspace,
    actor: User,
    *,
    topic: Topic,
    version: TemplateVersion,
    from_email: str,
    from_name: str = "",
    reply_to: str = "",
    name: str = "",
    send_at: datetime | None = None,
    time_zone: str = "",
    now: datetime | None = None,
) -> CategoryMessage:
    """A category message, scheduled for ``send_at`` (a local time in ``time_zone``) or sent
    now (queued in this call) when ``send_at`` is None."""
    now = now or timezone.now()
    if topic.workspace_id != workspace.pk or version.template.workspace_id != workspace.pk:
        raise ValueError("a category message's category and template belong to its workspace")
    problems: list[FieldProblem] = []
    title = (name or topic.name).strip()
    if len(title) > 200:
        problems.append(FieldProblem("name", "must be at most 200 characters"))
    sender, clean_from_name, clean_reply_to = _check_sender(actor, workspace, from_email, from_name, reply_to, problems)
    problems += campaign_template_problems(("template_id", version))
    when, zone_name = now, time_zone
    if send_at is not None:
        if not time_zone and send_at.tzinfo is None:
            problems.append(FieldProblem("time_zone", "is required with send_at"))
        else:
            try:
                when = local_send_at(send_at, time_zone or "UTC")
                zone_name = time_zone or "UTC"
                if when < now - PAST_GRACE:
                    problems.append(FieldProblem("send_at", "is in the past"))
            except InvalidInput as exc:
                problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    with transaction.atomic():
        container = Campaign.objects.create(
            workspace=workspace, kind=CampaignKind.CATEGORY_MESSAGE, name=title, template_version=version,
            from_email=sender, from_name=clean_from_name, reply_to=clean_reply_to, created_by=actor,
            status=CampaignStatus.SCHEDULED, send_at=when, time_zone=zone_name, created_at=now, updated_at=now,
        )  # fmt: skip
        message = CategoryMessage.objects.create(
            workspace=workspace, campaign=container, topic=topic, topic_name=topic.name, created_by=actor,
            created_at=now,
        )  # fmt: skip
        if send_at is None:
            start_category_message(container.pk, now)
    message.campaign.refresh_from_db()
    return message


def cancel_category_message(message: CategoryMessage, *, now: datetime | None = None) -> CategoryMessage:
    """Cancel a scheduled one, or the rest of one being sent: nothing of it stays queued.
    ``Conflict`` once it is sent or cancelled."""
    cancel_campaign(message.campaign, now=now)
    return message


def _excluded(workspace_id: int) -> dict[str, Q]:
    mine = Suppression.objects.filter(workspace_id=workspace_id, email=OuterRef("email_key"))
    everyone = Suppression.objects.filter(workspace__isnull=True, email=OuterRef("email_key"))
    unsubscribe = {"reason": Reason.UNSUBSCRIBE}
    return {
        "suppressed": Q(status__in=[ContactStatus.BOUNCED, ContactStatus.COMPLAINED])
        | Exists(mine.exclude(**unsubscribe)) | Exists(everyone.exclude(**unsubscribe)),
        "unsubscribed": Q(status=ContactStatus.UNSUBSCRIBED) | Exists(mine.filter(**unsubscribe))
        | Exists(everyone.filter(**unsubscribe)),
    }  # fmt: skip


def freeze_category_audience(container: Campaign, topic_id: int | None, now: datetime) -> int:
    """Count the category's subscribers left out (by reason) and insert a recipient for each
    of the others, set-wise; the number of recipients."""
    subscribers = Contact.objects.filter(
        workspace_id=container.workspace_id,
        pk__in=ContactTopic.objects.filter(topic_id=topic_id or 0).values("contact_id"),
    )
    excluded = _excluded(container.workspace_id)
    suppressed = excluded["suppressed"]
    unsubscribed = excluded["unsubscribed"] & ~suppressed
    counts = subscribers.aggregate(
        suppressed=Count("pk", filter=suppressed), unsubscribed=Count("pk", filter=unsubscribed)
    )
    eligible = subscribers.filter(status=ContactStatus.ACTIVE)
    eligible = eligible.exclude(excluded["suppressed"] | excluded["unsubscribed"])
    rows = (
        eligible.annotate(x_campaign=Value(container.pk, IntegerField()), x_at=Value(now, DateTimeField()))
        .order_by("pk")
        .values_list("x_campaign", "pk", "email", "x_at")
    )
    audience = insert_select(Recipient, ["campaign", "contact", "email", "created_at"], rows)
    Campaign.objects.filter(pk=container.pk).update(
        audience=audience, excluded_suppressed=counts["suppressed"], excluded_unsubscribed=counts["unsubscribed"]
    )
    return audience


def start_category_message(campaign_id: int, now: datetime) -> bool:
    """Claim a due category message (``scheduled → sending``), freeze its audience and queue
    its mail, in one transaction; False when it was not due or another worker started it."""
    with transaction.atomic():
        claimed = Campaign.objects.filter(
            pk=campaign_id, kind=CampaignKind.CATEGORY_MESSAGE, status=CampaignStatus.SCHEDULED, send_at__lte=now
        ).update(status=CampaignStatus.SENDING, started_at=now, updated_at=now)
        if not claimed:
            return False
        container = Campaign.objects.select_related("workspace__organization", "template_version").get(pk=campaign_id)
        message = CategoryMessage.objects.get(campaign=container)
        freeze_category_audience(container, message.topic_id, now)
        queue_messages(
            container,
            Recipient.objects.filter(campaign=container),
            purpose=Purpose.INVITATION,
            version=container.template_version,
            category=Category.CATEGORY_MESSAGE,
            now=now,
        )
    return True


def due_category_messages(now: datetime, limit: int) -> list[int]:
    """Container ids of the category messages due at ``now``."""
    due = Campaign.objects.filter(
        kind=CampaignKind.CATEGORY_MESSAGE, status=CampaignStatus.SCHEDULED, send_at__lte=now
    ).order_by("send_at", "id")
    return list(due.values_list("id", flat=True)[:limit])


def category_messages_of(workspace: Workspace) -> QuerySet[CategoryMessage]:
    """The category messages of a workspace the caller has reached, newest first."""
    return (
        CategoryMessage.objects.filter(workspace=workspace)
        .select_related("campaign__template_version__template")
        .order_by("-created_at", "-id")
    )


def category_message_stats(message: CategoryMessage) -> dict[str, int]:
    """Recipients, exclusions and what became of the mail."""
    container = message.campaign
    statuses = dict(
        Message.objects.filter(id__in=CampaignMessage.objects.filter(campaign=container).values("message_id"))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "audience": container.audience,
        "excluded_suppressed": container.excluded_suppressed,
        "excluded_unsubscribed": container.excluded_unsubscribed,
        "queued": sum(n for s, n in statuses.items() if s in DUE_STATUSES or s == Status.SENDING),
        "sent": sum(n for s, n in statuses.items() if s in SENT_STATUSES),
        "failed": sum(n for s, n in statuses.items() if s in (Status.BOUNCED, Status.DROPPED)),
        "cancelled": statuses.get(Status.CANCELLED, 0),
    }  # fmt: skip

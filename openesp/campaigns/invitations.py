"""A campaign's invitations, queued in chunks as delivery drains them.

The audience is frozen whole when the campaign starts (``recipients.freeze_audience``), but its
invitations are queued ``OPENESP_CAMPAIGN_CHUNK`` recipients at a time, in recipient id order:
the first chunk in the start's own transaction, the next ones by the scheduler
(``scheduling.run_due`` → ``refill``) whenever fewer than half a chunk of the latest one is still
waiting to be sent. Queueing a million link rows and messages at once cost more than the whole
rest of a start (docs/decisions/022-invitations-queued-in-chunks.md).

The campaign row is the cursor: ``invited_through`` (the highest recipient id whose invitation is
queued), ``uninvited`` (how many recipients have none yet) and ``invitations_from`` (the first
message id of the latest chunk). Each chunk is one transaction that holds the campaign's row
(PostgreSQL ``FOR UPDATE SKIP LOCKED``: a second worker skips the campaign instead of queueing
the same chunk; SQLite's write lock serialises) and advances the cursor with the messages, so a
worker killed mid-chunk leaves either the whole chunk queued and the cursor past it, or neither.
Only ``sending`` campaigns are refilled: pausing stops the refills, resuming continues them,
cancelling ends them (the recipients never invited count as cancelled in ``stats``).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, QuerySet

from openesp.campaigns.campaigns import HELD
from openesp.campaigns.models import Campaign, CampaignKind, CampaignMessage, CampaignStatus, Purpose, Recipient
from openesp.campaigns.queueing import large_cache, queue_messages, table
from openesp.messaging.models import DUE_STATUSES, Category, Message, Status


def chunk_size() -> int:
    return int(settings.OPENESP_CAMPAIGN_CHUNK)


def queue_invitations(campaign: Campaign, now: datetime, limit: int | None) -> int:
    """Queue the invitations of the next ``limit`` recipients (all that are left when None) and
    advance the cursor; how many were queued. Call it in a transaction that holds the campaign's
    row (or SQLite's write lock) and has written already; ``campaign`` is fresh from it."""
    through = campaign.invited_through
    last = _last_of_chunk(campaign, limit)
    if last is None:  # nobody is left after the cursor
        Campaign.objects.filter(pk=campaign.pk).update(uninvited=0)
        campaign.uninvited = 0
        return 0
    first_message = (Message.objects.aggregate(n=Max("id"))["n"] or 0) + 1  # ours come after every id handed out
    # A recipient who responded before the chunk reached them has their invitation already
    # (``invite_early``): looked up in the partial unique index of the invitations.
    invited = CampaignMessage.objects.filter(recipient_id=OuterRef("pk"), purpose=Purpose.INVITATION)
    chunk = Recipient.objects.filter(campaign_id=campaign.pk, pk__gt=through, pk__lte=last).exclude(Exists(invited))
    count = queue_messages(
        campaign, chunk, purpose=Purpose.INVITATION, version=campaign.template_version, category=Category.INVITATION,
        now=now,
    )  # fmt: skip
    left = max(campaign.uninvited - count, 0) if limit is not None else 0
    Campaign.objects.filter(pk=campaign.pk).update(invited_through=last, uninvited=left, invitations_from=first_message)
    campaign.invited_through, campaign.uninvited, campaign.invitations_from = last, left, first_message
    return count


def _last_of_chunk(campaign: Campaign, limit: int | None) -> int | None:
    """The highest recipient id of the next chunk: the ``limit``-th recipient after the cursor.
    Read along the primary key (a campaign's recipients were made together, so their ids
    follow one another), which both databases do for ``ORDER BY id LIMIT``."""
    limit_sql = "LIMIT %s" if limit is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(id) FROM (SELECT id FROM {table(Recipient)} WHERE campaign_id = %s AND id > %s "  # noqa: S608
            f"ORDER BY id {limit_sql}) chunk",
            [campaign.pk, campaign.invited_through, *([limit] if limit is not None else [])],
        )
        (last,) = cursor.fetchone()
    return None if last is None else int(last)


def waiting(campaign: Campaign) -> int:
    """Invitations of the latest chunk (and any queued since) not sent yet. Read along the
    links' primary key (the message id) from the chunk's first message on, so the count costs a
    chunk's rows, not the campaign's: ``+ 0`` keeps both databases off the links' campaign index,
    which would have them read every link of the campaign."""
    statuses = [*DUE_STATUSES, Status.SENDING]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {table(CampaignMessage)} cm JOIN {table(Message)} m ON m.id = cm.message_id "  # noqa: S608
            f"WHERE cm.message_id >= %s AND cm.campaign_id + 0 = %s AND cm.purpose = %s "
            f"AND m.status IN ({', '.join('%s' for _ in statuses)})",
            [campaign.invitations_from, campaign.pk, Purpose.INVITATION, *statuses],
        )
        (count,) = cursor.fetchone()
    return int(count)


def refill(campaign_id: int, now: datetime) -> int:
    """Queue the campaign's next chunk if it is sending, has recipients left to invite and fewer
    than half a chunk of the latest one waits to be sent; how many invitations were queued."""
    size = chunk_size()
    with large_cache(), transaction.atomic():
        rows = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING, uninvited__gt=0)
        # Another worker queueing this campaign's chunk holds the row: skip it rather than wait
        # and queue the next chunk as well.
        campaign = (
            rows.select_for_update(skip_locked=True, of=("self",))
            .select_related("workspace__organization", "template_version")
            .first()
        )
        if campaign is None or waiting(campaign) * 2 >= size:
            return 0
        return queue_invitations(campaign, now, size)


def due_refills(limit: int) -> list[int]:
    """Sending campaigns with recipients left to invite, the earliest started first."""
    rows = Campaign.objects.filter(kind=CampaignKind.CAMPAIGN, status=CampaignStatus.SENDING, uninvited__gt=0)
    return list(rows.order_by("started_at", "id").values_list("id", flat=True)[:limit])


def invite_all(campaign: Campaign, now: datetime) -> int:
    """Queue every invitation still to queue, if the campaign is sending (a reminder goes to who
    was invited: it finishes the invitations first). In the caller's transaction."""
    if campaign.uninvited == 0:
        return 0
    fresh = _locked().filter(pk=campaign.pk, status=CampaignStatus.SENDING, uninvited__gt=0).first()
    if fresh is None:
        return 0
    count = queue_invitations(fresh, now, None)
    campaign.invited_through, campaign.uninvited = fresh.invited_through, fresh.uninvited
    return count


def invite_early(recipient: Recipient, now: datetime) -> bool:
    """Queue the invitation of a recipient who responds before their chunk is queued (by the
    API, the CLI), so that the response has an invitation to be linked to and the invitation
    goes out as it would have had it been queued at the start. In the caller's transaction;
    False when the invitation is queued already or the campaign is cancelled or finished."""
    pending = Campaign.objects.filter(pk=recipient.campaign_id, uninvited__gt=0, invited_through__lt=recipient.pk)
    if not pending.exists():
        return False  # the common case, without taking the campaign's row
    campaign = (
        _locked()
        .filter(pk=recipient.campaign_id, status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED], uninvited__gt=0)
        .first()
    )
    if campaign is None or campaign.invited_through >= recipient.pk:
        return False
    if CampaignMessage.objects.filter(recipient_id=recipient.pk, purpose=Purpose.INVITATION).exists():
        return False
    queue_messages(
        campaign, Recipient.objects.filter(pk=recipient.pk), purpose=Purpose.INVITATION,
        version=campaign.template_version, category=Category.INVITATION, now=now,
        not_before=HELD if campaign.status == CampaignStatus.PAUSED else now,
    )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(uninvited=F("uninvited") - 1)
    return True


def _locked() -> QuerySet[Campaign]:
    """Campaigns read with their row locked (only theirs: not the workspace's or the template's)."""
    rows = Campaign.objects.select_for_update(of=("self",))
    return rows.select_related("workspace__organization", "template_version")

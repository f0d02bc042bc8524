"""Changing and deleting campaigns and templates, and a template's test mail to oneself.

- ``update_campaign``: a draft or scheduled campaign's fields, checked as ``create_campaign``
  checks them; any other state is a ``Conflict``. The check of the state and the change are one
  conditional UPDATE, so a campaign the scheduler starts meanwhile is never changed underneath it.
- ``delete_campaign``: a draft, or a campaign that is over (``sent`` or ``cancelled``). Its
  recipients, responses, reminders and message links go with it (set-wise: a sent campaign may
  have a million of them); its messages stay in the message log, the record of mail sent, and
  any still queued (a late receipt or reminder) are cancelled first. A scheduled, sending or
  paused campaign must be cancelled first (``Conflict``).
- ``delete_template``: ``Conflict`` while a campaign or a reminder pins one of its versions.
- ``send_test``: the template rendered for a sample (or chosen) contact, queued to the acting
  user's own address as a transactional mail, so it goes through their effective provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import normalise_email
from openesp.audience.models import ContactList, Segment
from openesp.campaigns.campaigns import _clean_url, _same_workspace, cancel_queued
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import (
    Campaign,
    CampaignMessage,
    CampaignStatus,
    Recipient,
    Reminder,
    Response,
    Template,
    TemplateVersion,
)
from openesp.campaigns.preview import queue_test
from openesp.campaigns.templates import campaign_template_problems, render_version, sample_context
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.models import Message
from openesp.messaging.senders import SenderNotAllowed, check_sender

EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
DELETABLE = (CampaignStatus.DRAFT, CampaignStatus.SENT, CampaignStatus.CANCELLED)
_UNSET: Any = object()


def update_campaign(
    campaign: Campaign,
    actor: User,
    *,
    name: str = _UNSET,
    template_version: TemplateVersion = _UNSET,
    from_email: str = _UNSET,
    from_name: str = _UNSET,
    reply_to: str = _UNSET,
    lists: Iterable[ContactList] = _UNSET,
    segment: Segment | None = _UNSET,
    response_url: str = _UNSET,
    receipt_version: TemplateVersion | None = _UNSET,
    tracking: dict[str, bool] = _UNSET,
    now: datetime | None = None,
) -> Campaign:
    """Change the fields given (the caller looked up lists, segment and versions through the
    tenant). One ``InvalidInput`` names every field at fault; ``Conflict`` unless the campaign is
    a draft or scheduled."""
    now = now or timezone.now()
    workspace = campaign.workspace
    given_lists = list(lists) if lists is not _UNSET else None
    objects = [x for x in (template_version, segment, receipt_version) if x is not _UNSET]
    if not _same_workspace(workspace, [*(given_lists or []), *objects]):
        raise ValueError("a campaign's lists, segment and templates belong to its workspace")
    problems: list[FieldProblem] = []
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        clean = name.strip()
        if not clean or len(clean) > 200:
            problems.append(FieldProblem("name", "is required, at most 200 characters"))
        changes["name"] = clean
    if from_email is not _UNSET:
        changes["from_email"] = _checked_sender(actor, workspace, from_email, problems)
    if reply_to is not _UNSET:
        changes["reply_to"] = ""
        if reply_to.strip():
            try:
                changes["reply_to"], _key = normalise_email(reply_to, "reply_to")
            except InvalidInput as exc:
                problems.extend(exc.problems)
    if from_name is not _UNSET:
        if len(from_name) > 200 or "\n" in from_name or "\r" in from_name:
            problems.append(FieldProblem("from_name", "must be one line of at most 200 characters"))
        changes["from_name"] = from_name.strip()
    if response_url is not _UNSET:
        changes["response_url"] = _clean_url(response_url, "response_url", problems)
    for field, value in (("template_version", template_version), ("segment", segment)):
        if value is not _UNSET:
            changes[field] = value
    if receipt_version is not _UNSET:
        changes["receipt_version"] = receipt_version
    if tracking is not _UNSET:
        changes["tracking"] = {**campaign.tracking, **tracking}
    problems += campaign_template_problems(
        *(("template_id", v) for v in (template_version,) if v is not _UNSET),
        *(("receipt_template_id", v) for v in (receipt_version,) if v is not _UNSET),
    )
    if problems:
        raise InvalidInput(problems)
    with transaction.atomic():
        done = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE).update(updated_at=now, **changes)
        if not done:
            campaign.refresh_from_db()
            raise Conflict(f"a {campaign.status} campaign cannot be changed: only drafts and scheduled ones can")
        if given_lists is not None:
            campaign.lists.set(given_lists)
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.SCHEDULED and campaign.segment_id is None and not campaign.lists.exists():
            # The scheduler would start it with nobody to send to (schedule_campaign refuses too).
            raise InvalidInput.one("lists", "a scheduled campaign needs an audience: choose lists or a segment")
    return campaign


def _checked_sender(actor: User, workspace: Workspace, from_email: str, problems: list[FieldProblem]) -> str:
    try:
        sender, _key = normalise_email(from_email, "from")
        check_sender(actor, workspace.organization, workspace, sender)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return ""
    except SenderNotAllowed as exc:
        problems.append(FieldProblem("from", str(exc)))
        return ""
    return sender


def _delete_rows(model: type[Any], campaign_id: int) -> None:
    """``DELETE FROM <model's table> WHERE campaign_id = …``: one statement, no rows loaded (the
    ORM's cascade would read every recipient of a million-recipient campaign into memory)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE campaign_id = %s", [campaign_id])  # noqa: S608


def delete_campaign(campaign: Campaign, *, now: datetime | None = None) -> None:
    """Delete a draft, sent or cancelled campaign and what it froze (see the module's docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        # The lock (PostgreSQL) keeps a scheduler or a request from moving the campaign meanwhile.
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None:
            return
        if locked.status not in DELETABLE:
            raise Conflict(f"a {locked.status} campaign cannot be deleted: cancel it first")
        mail = Message.objects.filter(id__in=CampaignMessage.objects.filter(campaign=locked).values("message_id"))
        cancel_queued(mail, now, "the campaign was deleted")
        for model in (CampaignMessage, Response, Reminder, Recipient):
            _delete_rows(model, locked.pk)
        locked.delete()


def delete_template(template: Template) -> None:
    """Delete a template and its versions; Conflict while a campaign or a reminder pins one."""
    try:
        with transaction.atomic():
            template.delete()
    except ProtectedError:
        raise Conflict("the template is used by a campaign and cannot be deleted") from None


def send_test(
    version: TemplateVersion, actor: User, *, from_email: str = "", context: dict[str, Any] | None = None
) -> Message:
    """Queue ``version`` rendered with ``context`` (default: the sample one of previews) to ``actor``'s own address,
    from ``from_email`` (default: the actor's own address) under the sender rules of
    ``POST /api/v1/messages``. InvalidInput naming ``from`` or the template part at fault."""
    workspace = version.template.workspace
    problems: list[FieldProblem] = []
    sender = _checked_sender(actor, workspace, from_email or actor.email, problems)
    if problems:
        raise InvalidInput(problems)
    rendered = render_version(version, context or sample_context(workspace))
    return queue_test(workspace, actor, rendered, from_email=sender, marker=f"{version.template_id}:{version.number}")

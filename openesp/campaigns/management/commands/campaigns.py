"""``openesp campaigns list|show|schedule|pause|resume|cancel|remind|respond``: the operator's hand
on campaigns, through the same actions as ``/api/v1/campaigns``.

The operator acts for no member: campaigns are named by id, reminders are made by no user (the
campaign's creator still decides the provider of its mail), and responses are recorded with the
source ``cli``. Errors name the option at fault, as the API's 422 names the field; an illegal
transition says which state the campaign is in (the API's 409).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from openesp.audience.actions import normalise_email
from openesp.campaigns import campaigns as actions
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Campaign, CampaignKind, CampaignStatus, Recipient, Reminder, TemplateVersion
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.responses import recipient_for_token, record_response
from openesp.campaigns.stats import campaign_stats
from openesp.esp.effective import effective_provider
from openesp.lib.errors import InvalidInput

OPTIONS = {
    "send_at": "--at",
    "time_zone": "--time-zone",
    "after_days": "--after-days",
    "lists": "the campaign's lists",
}


def _local(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date and time like 2026-12-24T09:00") from None


def _data(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError("is not valid JSON") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return data


def _campaign(campaign_id: int) -> Campaign:
    campaign = (
        Campaign.objects.select_related("workspace__organization", "template_version__template", "created_by")
        .filter(pk=campaign_id, kind=CampaignKind.CAMPAIGN)
        .first()
    )
    if campaign is None:
        raise CommandError(f"CAMPAIGN: no campaign has the id {campaign_id}")
    return campaign


def _when(campaign: Campaign) -> str:
    if campaign.send_at is None:
        return "-"
    local = campaign.send_at
    if campaign.time_zone:
        local = actions.local_send_at(campaign.send_at, campaign.time_zone)
    return f"{local:%Y-%m-%d %H:%M} {campaign.time_zone or 'UTC'}"


class Command(BaseCommand):
    help = "List, show, schedule, pause, resume, cancel and remind campaigns, and record responses."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="campaigns, newest first: id, status, name, workspace, start")
        listing.add_argument("--workspace", type=int, metavar="ID", help="only this workspace's")
        listing.add_argument("--status", choices=CampaignStatus.values, help="only campaigns in this state")
        show = sub.add_parser("show", help="a campaign with its effective provider and its numbers, as JSON")
        show.add_argument("campaign", type=int, metavar="CAMPAIGN")
        schedule = sub.add_parser("schedule", help="schedule a draft (or a scheduled campaign again)")
        schedule.add_argument("campaign", type=int, metavar="CAMPAIGN")
        when = schedule.add_mutually_exclusive_group(required=True)
        when.add_argument("--at", type=_local, metavar="LOCAL", help="a local date and time, e.g. 2026-12-24T09:00")
        when.add_argument("--now", action="store_true", help="start as soon as a worker picks it up")
        schedule.add_argument("--time-zone", default="", metavar="ZONE", help="an IANA zone, e.g. Europe/Stockholm")
        for name, text in (("pause", "pause"), ("resume", "resume"), ("cancel", "cancel")):
            sub.add_parser(name, help=f"{text} a campaign").add_argument("campaign", type=int, metavar="CAMPAIGN")
        remind = sub.add_parser("remind", help="remind who has not responded: now, at a time, or N days after start")
        remind.add_argument("campaign", type=int, metavar="CAMPAIGN")
        remind.add_argument("--template", type=int, required=True, metavar="ID", help="the reminder's template")
        remind.add_argument("--version", type=int, metavar="N", help="its version (default: the latest)")
        at = remind.add_mutually_exclusive_group()
        at.add_argument("--at", type=_local, metavar="LOCAL", help="a local date and time (default: now)")
        at.add_argument("--after-days", type=int, metavar="N", help="N days after the campaign started")
        remind.add_argument("--time-zone", default="", metavar="ZONE", help="the zone of --at")
        respond = sub.add_parser("respond", help="record a recipient's response (once)")
        respond.add_argument("campaign", type=int, metavar="CAMPAIGN")
        who = respond.add_mutually_exclusive_group(required=True)
        who.add_argument("--token", help="the recipient's response token")
        who.add_argument("--contact", type=int, metavar="ID", help="the recipient's contact id")
        who.add_argument("--email", help="the recipient's address")
        respond.add_argument("--data", type=_data, default={}, metavar="JSON", help="a JSON object to keep")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "list":
                self._list(options["workspace"], options["status"])
                return
            campaign = _campaign(options["campaign"])
            if action == "show":
                self._show(campaign)
            elif action == "schedule":
                if options["at"] is not None and not options["time_zone"]:
                    raise InvalidInput.one("time_zone", "is required with --at")
                actions.schedule_campaign(campaign, send_at=options["at"], time_zone=options["time_zone"])
                self.stdout.write(f"campaign {campaign.pk} is scheduled for {_when(campaign)}")
            elif action in ("pause", "resume", "cancel"):
                getattr(actions, f"{action}_campaign")(campaign)
                self.stdout.write(f"campaign {campaign.pk} is {campaign.status}")
            elif action == "remind":
                self._remind(campaign, options)
            else:
                self._respond(campaign, options)
        except InvalidInput as exc:
            raise CommandError(
                "; ".join(f"{OPTIONS.get(p.field, p.field)}: {p.reason}" for p in exc.problems)
            ) from None
        except Conflict as exc:
            raise CommandError(str(exc)) from None

    def _list(self, workspace_id: int | None, status: str | None) -> None:
        rows = Campaign.objects.filter(kind=CampaignKind.CAMPAIGN).select_related("workspace").order_by("-id")
        if workspace_id is not None:
            rows = rows.filter(workspace_id=workspace_id)
        if status is not None:
            rows = rows.filter(status=status)
        for c in rows.iterator():
            self.stdout.write(f"{c.pk}\t{c.status}\t{c.name}\tworkspace {c.workspace_id}\t{_when(c)}\t{c.audience}")

    def _show(self, campaign: Campaign) -> None:
        effective = effective_provider(campaign.created_by, campaign.workspace.organization)
        version = campaign.template_version
        shown = {
            "id": campaign.pk,
            "workspace_id": campaign.workspace_id,
            "name": campaign.name,
            "status": campaign.status,
            "template_id": version.template_id,
            "template_version": version.number,
            "from": campaign.from_email,
            "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
            "time_zone": campaign.time_zone,
            "effective_provider": {"kind": effective.kind, "reason": effective.reason},
            "stats": campaign_stats(campaign),
        }
        self.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2))

    def _remind(self, campaign: Campaign, options: dict[str, Any]) -> None:
        versions = TemplateVersion.objects.filter(
            template_id=options["template"], template__workspace_id=campaign.workspace_id
        ).select_related("template")
        version = (
            versions.filter(number=options["version"]).first()
            if options["version"] is not None
            else versions.order_by("-number").first()
        )
        if version is None:
            number = f" version {options['version']}" if options["version"] is not None else ""
            raise CommandError(f"--template: the campaign's workspace has no template {options['template']}{number}")
        if options["at"] is not None and not options["time_zone"]:
            raise InvalidInput.one("time_zone", "is required with --at")
        reminder = create_reminder(
            campaign,
            None,
            version=version,
            send_at=options["at"],
            time_zone=options["time_zone"],
            after_days=options["after_days"],
        )
        if reminder.manual:
            self.stdout.write(f"reminder {reminder.pk} sent to {reminder.sent} recipients")
        else:
            self.stdout.write(f"reminder {reminder.pk} scheduled for {self._due(reminder)}")

    @staticmethod
    def _due(reminder: Reminder) -> str:
        if reminder.after_days is not None:
            return f"{reminder.after_days} days after the campaign started"
        assert reminder.send_at is not None
        local = actions.local_send_at(reminder.send_at, reminder.time_zone or "UTC")
        return f"{local:%Y-%m-%d %H:%M} {reminder.time_zone or 'UTC'}"

    def _respond(self, campaign: Campaign, options: dict[str, Any]) -> None:
        recipients = Recipient.objects.filter(campaign=campaign)
        if options["token"] is not None:
            try:
                recipient: Recipient | None = recipient_for_token(options["token"].strip())
            except Http404:
                recipient = None
            if recipient is not None and recipient.campaign_id != campaign.pk:
                recipient = None
            what = "--token: is not a response token of this campaign"
        elif options["contact"] is not None:
            recipient = recipients.filter(contact_id=options["contact"]).first()
            what = f"--contact: contact {options['contact']} is not a recipient of this campaign"
        else:
            address, key = normalise_email(options["email"], "--email")
            recipient = recipients.filter(contact__email_key=key).first()
            what = f"--email: {address} is not a recipient of this campaign"
        if recipient is None:
            raise CommandError(what)
        response, created = record_response(recipient, data=options["data"], source="cli")
        if created:
            self.stdout.write(f"response {response.pk} recorded for {recipient.email}")
        else:
            self.stdout.write(f"{recipient.email} had responded already: response {response.pk}")

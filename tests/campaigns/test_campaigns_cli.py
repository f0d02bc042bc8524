"""``openesp campaigns list|show|schedule|pause|resume|cancel|remind|respond``.

Most tests run the command in-process (``call_command``: the real command, parser included);
the last one runs ``python -m openesp campaigns`` as a process against the test database.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from openesp.audience.suppressions import add_suppression
from openesp.campaigns.models import Campaign, Recipient, Reminder, Response
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import make_token
from openesp.messaging.models import Category, Message
from tests.processes import HANG, run_database_url

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def _run(*args: object) -> str:
    out = io.StringIO()
    call_command("campaigns", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def _started(campaign: Campaign) -> Campaign:
    _run("schedule", campaign.pk, "--now")
    run_due(timezone.now() + timedelta(seconds=1))
    campaign.refresh_from_db()
    return campaign


def test_list_and_show(campaign, workspace):
    other = Campaign.objects.create(
        workspace=workspace, name="Other", template_version=campaign.template_version, from_email="a@example.org",
        status="cancelled",
    )  # fmt: skip
    lines = _run("list").splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        [str(other.pk), "cancelled", "Other"],
        [str(campaign.pk), "draft", "Spring"],
    ]
    assert _run("list", "--status", "draft").splitlines()[0].startswith(f"{campaign.pk}\tdraft")
    assert _run("list", "--workspace", "987654") == ""
    shown = json.loads(_run("show", campaign.pk))
    assert (shown["id"], shown["status"], shown["template_version"]) == (campaign.pk, "draft", 1)
    assert set(shown["effective_provider"]) == {"kind", "reason"} and shown["stats"]["audience"] == 0


def test_schedule_at_a_local_time_then_pause_resume_cancel(campaign):
    out = _run("schedule", campaign.pk, "--at", "2099-12-24T09:00", "--time-zone", "Europe/Stockholm")
    assert out == f"campaign {campaign.pk} is scheduled for 2099-12-24 09:00 Europe/Stockholm\n"
    campaign.refresh_from_db()
    assert campaign.send_at == datetime(2099, 12, 24, 8, 0, tzinfo=UTC)
    assert _run("pause", campaign.pk) == f"campaign {campaign.pk} is paused\n"
    assert _run("resume", campaign.pk) == f"campaign {campaign.pk} is scheduled\n"
    assert _run("cancel", campaign.pk) == f"campaign {campaign.pk} is cancelled\n"
    with pytest.raises(CommandError, match=r"^a cancelled campaign cannot be paused$"):
        _run("pause", campaign.pk)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schedule", "{c}", "--at", "2099-12-24T09:00"], "--time-zone: is required with --at"),
        (["schedule", "{c}", "--at", "2099-12-24T09:00", "--time-zone", "Mars/Base"], "--time-zone: is not an IANA"),
        (["schedule", "{c}", "--at", "2001-01-01T09:00", "--time-zone", "UTC"], "--at: is in the past"),
        (["schedule", "{c}", "--at", "soon", "--time-zone", "UTC"], "is not a date and time like"),
        (["schedule", "{c}"], "one of the arguments --at --now is required"),
        (["pause", "987654"], "CAMPAIGN: no campaign has the id 987654"),
        (["resume", "{c}"], "a draft campaign cannot be resumed"),
        (["remind", "{c}", "--template", "987654"], "--template: the campaign's workspace has no template 987654"),
        (["respond", "{c}", "--contact", "987654"], "--contact: contact 987654 is not a recipient"),
        (["respond", "{c}", "--token", "x", "--data", "[1]"], "must be a JSON object"),
    ],
)
def test_errors_name_the_option(campaign, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        _run(*[a.replace("{c}", str(campaign.pk)) for a in args])
    campaign.refresh_from_db()
    assert campaign.status == "draft" and not Reminder.objects.exists()


def test_remind_now_and_scheduled(campaign, workspace):
    reminder = create_template(workspace, name="Reminder", subject="Still there?", text="{{ response_url }}")
    with pytest.raises(CommandError, match=r"^a draft campaign cannot be reminded$"):
        _run("remind", campaign.pk, "--template", reminder.template_id)
    _started(campaign)
    add_suppression(workspace, "m4@example.com")
    _run("respond", campaign.pk, "--email", "M0@example.com")
    out = _run("remind", campaign.pk, "--template", reminder.template_id)
    assert out.startswith("reminder ") and out.endswith(" sent to 3 recipients\n")
    assert sorted(Message.objects.filter(category=Category.REMINDER).values_list("to_email", flat=True)) == [
        "m1@example.com", "m2@example.com", "m3@example.com"
    ]  # fmt: skip
    later = _run("remind", campaign.pk, "--template", reminder.template_id, "--after-days", "2")
    assert later.endswith("scheduled for 2 days after the campaign started\n")
    at = _run(
        "remind", campaign.pk, "--template", reminder.template_id, "--version", "1",
        "--at", "2099-01-10T08:30", "--time-zone", "Europe/Stockholm",
    )  # fmt: skip
    assert at.endswith("scheduled for 2099-01-10 08:30 Europe/Stockholm\n")
    assert list(Reminder.objects.order_by("id").values_list("manual", "status")) == [
        (True, "sent"), (False, "scheduled"), (False, "scheduled")
    ]  # fmt: skip


def test_respond_by_token_contact_or_email_records_once(campaign):
    _started(campaign)
    recipients = list(Recipient.objects.filter(campaign=campaign).order_by("id"))
    out = _run("respond", campaign.pk, "--token", make_token(recipients[0].pk), "--data", '{"seats": 2}')
    response = Response.objects.get()
    assert out == f"response {response.pk} recorded for {recipients[0].email}\n"
    assert (response.data, response.source) == ({"seats": 2}, "cli")
    again = _run("respond", campaign.pk, "--contact", recipients[0].contact_id)
    assert again == f"{recipients[0].email} had responded already: response {response.pk}\n"
    _run("respond", campaign.pk, "--email", recipients[1].email)
    assert Response.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_openesp_command_runs_it_as_a_process(campaign):
    """``python -m openesp campaigns …`` against the test database: the entry point, the
    settings and the command together, as an operator runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(DATABASE_URL=run_database_url(), OPENESP_DATA_DIR=str(settings.DATA_DIR), OPENESP_LOG_LEVEL="WARNING")

    def openesp(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "openesp", "campaigns", *[str(a) for a in args]],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG,
        )  # fmt: skip

    scheduled = openesp("schedule", campaign.pk, "--at", "2099-12-24T09:00", "--time-zone", "Europe/Stockholm")
    assert scheduled.returncode == 0, scheduled.stderr
    assert scheduled.stdout == f"campaign {campaign.pk} is scheduled for 2099-12-24 09:00 Europe/Stockholm\n"
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    refused = openesp("resume", campaign.pk)
    assert refused.returncode == 1 and "a scheduled campaign cannot be resumed" in refused.stderr
    listed = openesp("list")
    assert listed.stdout.startswith(f"{campaign.pk}\tscheduled\tSpring\t")

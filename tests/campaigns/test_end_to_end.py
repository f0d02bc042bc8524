"""THE JUDGED END-TO-END SCENARIO of issue 9, through the public API, on SQLite and PostgreSQL.

A 10,000-contact list (imported through ``POST /api/v1/lists/{id}/imports``) with suppressed
and unsubscribed contacts; an invitation campaign scheduled in ``Europe/Stockholm``; real
``openesp worker`` processes (they start the campaign, send it, send the scheduled reminder and
the receipts) delivering to an aiosmtpd sink on loopback; 30 % of the recipients respond through
``POST /api/v1/campaigns/{id}/responses`` (half by the token of the link in the mail they got,
half by contact id); a few more are suppressed or unsubscribe before the reminder; a scheduled
reminder then reaches exactly the other 70 % minus those, and receipts exactly the responders.
Every mail is counted per address at the sink, and the campaign's numbers are read from the API.

Everything the test does to the campaign goes through the API (the in-process Django test client,
whose requests commit, since the workers are other processes); the import is worked off by the
real import runner, in this process, as ``openesp serve`` runs it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.campaigns.tokens import recipient_id_for
from openesp.messaging.models import DUE_STATUSES, Category, Message, Status
from tests.api.conftest import Api, api_for
from tests.audience.import_helpers import run_all
from tests.campaigns.sending import Delivered, delivered, per_address
from tests.delivery.test_crash import _start_worker
from tests.processes import wait_until

CONTACTS = 10_000
STOCKHOLM = "Europe/Stockholm"
INVITATION = """<p>Dear {{ contact.name }},</p>
<p><a href="{{ response_url }}">Will you come?</a> · <a href="{{ unsubscribe_url }}">unsubscribe</a></p>"""


def _owner() -> tuple[User, Workspace]:
    alice = User.objects.create_user("alice@example.org", "x" * 12, name="Alice", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=alice, role=Role.OWNER)
    return alice, Workspace.objects.create(organization=org, name="Events")


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def _stockholm_now() -> str:
    """The local time in Stockholm now, as a person would type it (no offset)."""
    return datetime.now(ZoneInfo(STOCKHOLM)).replace(tzinfo=None).isoformat(timespec="seconds")


def _import(api: Api, workspace: Workspace) -> int:
    members = _ok(api.post("/api/v1/lists", {"name": "Members", "workspace": workspace.pk}), 201)["id"]
    csv = "email,name\n" + "".join(f"c{i}@example.net,Person {i}\n" for i in range(CONTACTS))
    upload = SimpleUploadedFile("members.csv", csv.encode(), content_type="text/csv")
    job = api.client.post(f"/api/v1/lists/{members}/imports", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert job.status_code == 202, job.content
    run_all()
    assert _ok(api.get(f"/api/v1/imports/{job.json()['id']}"))["created"] == CONTACTS
    return int(members)


def _contact_ids(api: Api, workspace: Workspace) -> dict[str, int]:
    ids: dict[str, int] = {}
    cursor = None
    while True:
        query: dict[str, Any] = {"workspace": workspace.pk, "limit": 100}
        if cursor:
            query["cursor"] = cursor
        page = _ok(api.get("/api/v1/contacts", **query))
        ids.update({c["email"]: c["id"] for c in page["items"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def _recipients(api: Api, campaign_id: int, **filters: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 100, **filters}
        if cursor:
            query["cursor"] = cursor
        page = _ok(api.get(f"/api/v1/campaigns/{campaign_id}/recipients", **query))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _token(mail: Delivered) -> str:
    return mail.text.split("/r/", 1)[1].split("/", 1)[0]


def _nothing_pending() -> bool:
    return not Message.objects.filter(status__in=[*DUE_STATUSES, Status.SENDING]).exists()


@pytest.mark.django_db(transaction=True)
def test_invite_respond_remind_and_receipt_through_the_api(smtp_server_no_tls, processes, settings):
    sink = smtp_server_no_tls
    # The operator's relay is the effective provider (in this process for the API's answer, in
    # the workers through their environment: tests.delivery.test_crash._start_worker).
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://127.0.0.1:{sink.port}?security=none"
    alice, workspace = _owner()
    api = api_for(alice)

    # --- the audience: 10,000 contacts, 500 suppressed (hard bounces), 400 unsubscribed from the list
    members = _import(api, workspace)
    ids = _contact_ids(api, workspace)
    suppressed = {f"c{i}@example.net" for i in range(CONTACTS) if i % 20 == 7}
    unsubscribed = {f"c{i}@example.net" for i in range(CONTACTS) if i % 25 == 3}
    for address in sorted(suppressed):
        body = {"email": address, "reason": "hard_bounce", "workspace": workspace.pk}
        _ok(api.post("/api/v1/suppressions", body), 201)
    for address in sorted(unsubscribed):
        assert api.delete(f"/api/v1/lists/{members}/subscribers/{ids[address]}").status_code in (200, 204)
    eligible = set(ids) - suppressed - unsubscribed
    assert len(eligible) == 9_100

    # --- templates and the campaign, scheduled at a local time in Stockholm
    def template(name: str, subject: str, **parts: str) -> int:
        return int(_ok(api.post("/api/v1/templates", {"name": name, "subject": subject, **parts,
                                                      "workspace": workspace.pk}), 201)["id"])  # fmt: skip

    invitation = template("Invitation", "You are invited, {{ contact.name }}", html=INVITATION)
    reminder = template("Reminder", "Still coming, {{ contact.name }}?", text="Answer: {{ response_url }}")
    receipt = template("Receipt", "Thank you, {{ contact.name }}", text="We have your answer.")
    body = {
        "name": "Gala",
        "template_id": invitation,
        "from": {"email": alice.email, "name": "Acme events"},
        "lists": [members],
        "receipt_template_id": receipt,
        "workspace": workspace.pk,
    }
    campaign = _ok(api.post("/api/v1/campaigns", body), 201)
    assert campaign["status"] == "draft"
    assert campaign["effective_provider"]["kind"] != "none", campaign["effective_provider"]
    url = f"/api/v1/campaigns/{campaign['id']}"
    local = _stockholm_now()
    scheduled = _ok(api.post(f"{url}/schedule", {"send_at": local, "time_zone": STOCKHOLM}))
    assert scheduled["status"] == "scheduled" and scheduled["time_zone"] == STOCKHOLM
    expected_at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(STOCKHOLM))
    assert datetime.fromisoformat(scheduled["send_at"]) == expected_at

    # --- the workers start and send it (two on PostgreSQL, sharing the queue; one on SQLite)
    workers = [_start_worker(processes, sink.port) for _ in range(2 if connection.vendor == "postgresql" else 1)]
    try:
        # Asked once a second: each answer counts the campaign's 9,100 recipients, and at 20 a
        # second the asking took the cores the workers send with.
        wait_until(lambda: _ok(api.get(url))["status"] == "sent", "the campaign to be sent", every=1.0)
        stats = _ok(api.get(url))["stats"]
        assert (stats["audience"], stats["queued"], stats["sent"]) == (9_100, 0, 9_100)
        assert stats["excluded"] == {"suppressed": 500, "unsubscribed": 400, "not_subscribed": 0, "erased": 0}
        invitations = {d.to: d for d in delivered(sink) if d.category == Category.INVITATION}
        assert set(invitations) == eligible

        # --- 30 % respond through the API: by the token of their mail's link, or by contact id
        recipients = _recipients(api, campaign["id"])
        assert {r["email"] for r in recipients} == eligible
        assert {r["status"] for r in recipients} == {"sent"}
        responders = {r["email"] for n, r in enumerate(recipients) if n % 10 < 3}
        assert len(responders) == 2_730
        first_ids: dict[str, int] = {}
        for n, r in enumerate(r for r in recipients if r["email"] in responders):
            token = _token(invitations[r["email"]])
            assert recipient_id_for(token)  # a link of ours, signed
            answer = {"token": token} if n % 2 else {"contact_id": r["contact_id"]}
            first_ids[r["email"]] = _ok(api.post(f"{url}/responses", {**answer, "data": {"n": n}}), 201)["id"]
        for address in sorted(responders)[:25]:  # a repeat changes nothing and names the first response
            again = _ok(api.post(f"{url}/responses", {"contact_id": ids[address]}))
            assert again["id"] == first_ids[address]
        assert len(_recipients(api, campaign["id"], responded="true")) == 2_730

        # --- before the reminder: 20 more bounce, 20 more unsubscribe (by the API, as feedback would)
        others = sorted(eligible - responders)
        late_bounced, late_unsubscribed = set(others[:20]), set(others[20:40])
        for address in sorted(late_bounced):
            _ok(api.post("/api/v1/suppressions", {"email": address, "reason": "hard_bounce",
                                                  "workspace": workspace.pk}), 201)  # fmt: skip
        for address in sorted(late_unsubscribed):
            _ok(api.post("/api/v1/suppressions", {"email": address, "reason": "unsubscribe",
                                                  "workspace": workspace.pk}), 201)  # fmt: skip

        # --- a scheduled reminder (a local time in Stockholm: now), sent by the workers' scheduler
        made = _ok(api.post(f"{url}/reminders", {"template_id": reminder, "send_at": _stockholm_now(),
                                                 "time_zone": STOCKHOLM}), 201)  # fmt: skip
        assert (made["category"], made["status"]) == ("reminder_scheduled", "scheduled")
        reminded = eligible - responders - late_bounced - late_unsubscribed
        assert len(reminded) == 6_330
        total = 9_100 + 2_730 + 6_330
        wait_until(
            lambda: _ok(api.get(f"{url}/reminders"))[0]["status"] == "sent", "the reminder to be sent", every=1.0
        )
        wait_until(
            lambda: len(sink.messages) >= total and _nothing_pending(), "every mail to reach the sink", every=0.5
        )
    finally:
        for worker in workers:
            processes.stop(worker)

    # --- counted per address at the sink: each exactly once, and nothing else
    mails = delivered(sink)
    assert len(mails) == total
    assert per_address(mails, Category.INVITATION) == Counter(eligible)
    assert per_address(mails, Category.RESPONSE_RECEIPT) == Counter(responders)
    assert per_address(mails, Category.REMINDER_SCHEDULED) == Counter(reminded)
    assert {d.category for d in mails} == {Category.INVITATION, Category.RESPONSE_RECEIPT, Category.REMINDER_SCHEDULED}
    sample = next(d for d in mails if d.category == Category.RESPONSE_RECEIPT)
    assert sample.mail["Subject"] == f"Thank you, Person {sample.to.split('@')[0][1:]}"

    final = _ok(api.get(url))
    assert final["status"] == "sent"
    numbers = final["stats"]
    assert (numbers["responded"], numbers["reminders_sent"], numbers["receipts_sent"]) == (2_730, 6_330, 2_730)
    assert _ok(api.get(f"{url}/reminders"))[0]["sent"] == 6_330
    timeline = _ok(api.get(f"{url}/timeline"))
    assert sum(p["sent"] for p in timeline["points"]) == 9_100 + 6_330
    assert sum(p["responded"] for p in timeline["points"]) == 2_730

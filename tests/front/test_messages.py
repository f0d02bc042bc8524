"""The message log of a workspace and the page of one message with its timeline of events."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.messaging.models import Category, Event, EventType, Message, Status
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _message(workspace: Workspace, **fields: Any) -> Message:
    values: dict[str, Any] = {
        "organization": workspace.organization,
        "workspace": workspace,
        "from_email": "shop@example.com",
        "to_email": "ann@example.org",
        "subject": "Your order",
        "created_at": T0,
        **fields,
    }
    return Message.objects.create(**values)


def _log(client: Client, workspace: Workspace, **params: Any) -> str:
    response = client.get(reverse("ws-messages", args=[workspace.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def _shown(html: str) -> list[str]:
    """The public ids of the rows of the log, top to bottom."""
    return re.findall(r'data-message="([0-9a-f-]{36})"', html)


def _page(client: Client, message: Message, **headers: Any) -> str:
    assert message.workspace_id is not None
    response = client.get(reverse("ws-message", args=[message.workspace_id, message.public_id]), **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def second_workspace(org) -> Workspace:
    """Sales: in alice's organization, not granted to bob."""
    return Workspace.objects.create(organization=org, name="Sales")


def test_it_lists_the_workspaces_messages_newest_first(as_alice, alice, workspace, second_workspace):
    old = _message(workspace, subject="Old", created_at=T0 - timedelta(days=2))
    new = _message(workspace, subject="New", created_at=T0)
    _message(second_workspace, subject="Elsewhere")
    Message.objects.create(from_email="a@example.org", to_email="b@example.org", subject="Personal", user=alice)
    (submitted,) = submit(
        alice,
        parse_submission(
            {
                "from": alice.email,
                "to": [{"email": "zed@example.net", "name": "Zed"}],
                "subject": "Via the API",
                "text": "Hi",
            }
        ),
        workspace=workspace,
    )
    html = _log(as_alice, workspace)
    assert _shown(html) == [str(submitted.public_id), str(new.public_id), str(old.public_id)]
    assert "Elsewhere" not in html and "Personal" not in html
    assert "zed@example.net" in html and "Via the API" in html
    assert reverse("ws-message", args=[workspace.pk, new.public_id]) in html
    assert '<span class="badge st-queued">Queued</span>' in html


def test_it_shows_the_provider_and_a_status_badge_per_row(as_alice, workspace):
    _message(workspace, status=Status.SENT, provider_kind="relay")
    _message(workspace, status=Status.BOUNCED, provider_kind="mailjet", created_at=T0 - timedelta(hours=1))
    html = _log(as_alice, workspace)
    assert '<span class="badge st-sent">Sent</span>' in html
    assert '<span class="badge st-bounced">Bounced</span>' in html
    assert "The server&#x27;s SMTP relay" in html
    assert "Mailjet" in html


def test_it_says_when_there_is_nothing_to_show(as_alice, workspace):
    html = _log(as_alice, workspace)
    assert 'data-testid="no-messages"' in html
    assert "No messages yet." in html
    _message(workspace)
    html = _log(as_alice, workspace, recipient="nobody")
    assert "No messages match these filters." in html
    assert _shown(html) == []


def test_it_filters_by_status(as_alice, workspace):
    sent = _message(workspace, status=Status.SENT)
    deferred = _message(workspace, status=Status.DEFERRED)
    _message(workspace, status=Status.BOUNCED)
    assert _shown(_log(as_alice, workspace, status="sent")) == [str(sent.public_id)]
    assert _shown(_log(as_alice, workspace, status="deferred")) == [str(deferred.public_id)]
    assert _shown(_log(as_alice, workspace, status="dropped")) == []
    assert len(_shown(_log(as_alice, workspace, status=""))) == 3


def test_it_filters_by_recipient_substring_ignoring_case(as_alice, workspace):
    ann = _message(workspace, to_email="Ann.Smith@Example.org")
    _message(workspace, to_email="bob@example.net")
    assert _shown(_log(as_alice, workspace, recipient="ann.smith")) == [str(ann.public_id)]
    assert _shown(_log(as_alice, workspace, recipient="  EXAMPLE.ORG ")) == [str(ann.public_id)]
    assert len(_shown(_log(as_alice, workspace, recipient="example"))) == 2


def test_it_filters_by_category(as_alice, workspace):
    reminder = _message(workspace, category=Category.REMINDER)
    _message(workspace, category=Category.TRANSACTIONAL)
    assert _shown(_log(as_alice, workspace, category="reminder")) == [str(reminder.public_id)]
    assert _shown(_log(as_alice, workspace, category="system")) == []


def test_it_filters_by_dates_both_inclusive(as_alice, workspace):
    day = {d: _message(workspace, created_at=datetime(2026, 11, d, 23, 59, tzinfo=UTC)) for d in (18, 19, 20, 21)}
    ids = {d: str(m.public_id) for d, m in day.items()}
    assert _shown(_log(as_alice, workspace, date_from="2026-11-20")) == [ids[21], ids[20]]
    assert _shown(_log(as_alice, workspace, date_to="2026-11-19")) == [ids[19], ids[18]]
    assert _shown(_log(as_alice, workspace, date_from="2026-11-19", date_to="2026-11-20")) == [ids[20], ids[19]]


def test_it_combines_filters_and_keeps_their_values(as_alice, workspace):
    match = _message(workspace, to_email="ann@example.org", status=Status.SENT, category=Category.REMINDER)
    _message(workspace, to_email="ann@example.org", status=Status.SENT, category=Category.SYSTEM)
    _message(workspace, to_email="ann@example.org", status=Status.DEFERRED, category=Category.REMINDER)
    params = {"status": "sent", "recipient": "ann", "category": "reminder", "date_from": "2026-11-20"}
    html = _log(as_alice, workspace, **params)
    assert _shown(html) == [str(match.public_id)]
    assert '<option value="sent" selected>' in html
    assert '<option value="reminder" selected>' in html
    assert 'value="ann"' in html
    assert 'value="2026-11-20"' in html
    assert "Clear the filters" in html


def test_an_invalid_filter_is_shown_and_ignored(as_alice, workspace):
    ann = _message(workspace, to_email="ann@example.org")
    _message(workspace, to_email="bob@example.org")
    html = _log(as_alice, workspace, status="exploded", recipient="ann", date_from="yesterday")
    assert _shown(html) == [str(ann.public_id)]
    assert 'data-error-for="status"' in html
    assert 'data-error-for="date_from"' in html


def test_it_pages_by_fifty_and_keeps_the_filters(as_alice, workspace):
    Message.objects.bulk_create(
        [
            Message(
                organization=workspace.organization,
                workspace=workspace,
                from_email="shop@example.com",
                to_email=f"r{i}@example.org",
                subject=f"Number {i}",
                status=Status.SENT,
                created_at=T0 - timedelta(minutes=i),
            )
            for i in range(120)
        ]
    )
    _message(workspace, status=Status.BOUNCED, created_at=T0 + timedelta(days=1))
    first = _log(as_alice, workspace, status="sent")
    assert len(_shown(first)) == 50
    assert "r0@example.org" in first and "r49@example.org" in first and "r50@example.org" not in first
    assert "Page 1 of 3" in first
    assert "1–50 of 120" in first
    assert 'href="?status=sent&amp;page=2"' in first
    third = _log(as_alice, workspace, status="sent", page="3")
    assert len(_shown(third)) == 20
    assert "r119@example.org" in third
    assert 'href="?status=sent&amp;page=2"' in third and 'rel="next"' not in third
    # Past the end or nonsense: the nearest real page, not an error.
    assert _shown(_log(as_alice, workspace, status="sent", page="99")) == _shown(third)
    assert len(_shown(_log(as_alice, workspace, page="x"))) == 50


def _count(html: str, status: str) -> int:
    found = re.search(rf'data-testid="count-{status}">(\d+)<', html)
    assert found is not None, status
    return int(found.group(1))


def test_it_counts_the_messages_per_status_under_the_filters(as_alice, workspace, second_workspace):
    for status, n in [(Status.SENT, 3), (Status.DEFERRED, 2), (Status.BOUNCED, 1), (Status.QUEUED, 1)]:
        for _i in range(n):
            _message(workspace, status=status)
    _message(workspace, status=Status.DROPPED, to_email="zed@example.net")
    _message(second_workspace, status=Status.SENT)
    html = _log(as_alice, workspace)
    assert [_count(html, s) for s in ["all", "sent", "deferred", "bounced", "queued", "dropped"]] == [8, 3, 2, 1, 1, 1]
    assert 'data-testid="count-cancelled"' not in html
    # The other filters narrow the counts; the status filter picks a chip and keeps the others.
    html = _log(as_alice, workspace, recipient="example.org", status="sent")
    assert [_count(html, s) for s in ["all", "sent", "deferred"]] == [7, 3, 2]
    assert 'data-testid="count-dropped"' not in html
    assert 'class="chip chip-active" href="?recipient=example.org&amp;status=sent"' in html
    assert 'href="?recipient=example.org&amp;status=deferred"' in html
    assert 'href="?recipient=example.org"' in html  # "All"


def test_the_message_page_shows_the_events_in_order(as_alice, workspace):
    message = _message(
        workspace,
        from_name="The Shop",
        to_name="Ann",
        status=Status.DEFERRED,
        attempts=2,
        not_before=timezone.now() + timedelta(minutes=4),
        provider_kind="relay",
        provider_reason="the server's default provider",
        last_smtp_code=451,
        last_response="rcpt_to: 451 4.7.1 Greylisted, try again later",
        tags=["welcome", "q4"],
        metadata={"order": "A-17", "customer": "42"},
    )
    # Created out of order: the page orders by time.
    Event.objects.create(
        message=message,
        type=EventType.DEFERRED,
        created_at=T0 + timedelta(minutes=2),
        smtp_code=451,
        enhanced_status="4.7.1",
        detail="Greylisted, try again later",
        data={"step": "rcpt_to", "provider": "relay"},
    )
    Event.objects.create(message=message, type=EventType.QUEUED, created_at=T0)
    Event.objects.create(
        message=message,
        type=EventType.DEFERRED,
        created_at=T0 + timedelta(minutes=1),
        smtp_code=421,
        enhanced_status="4.3.2",
        detail="Service not available",
    )
    html = _page(as_alice, message)
    assert re.findall(r'data-event="(\w+)"', html) == ["queued", "deferred", "deferred"]
    assert re.findall(r'data-testid="smtp-code">([^<]*)<', html) == ["421 4.3.2", "451 4.7.1"]
    assert html.index("Service not available") < html.index("Greylisted, try again later</pre>")
    assert "Your order" in html
    assert "The Shop" in html and "&lt;shop@example.com&gt;" in html
    assert "Ann" in html and "&lt;ann@example.org&gt;" in html
    assert '<span class="badge badge-large st-deferred" data-testid="message-status">Deferred</span>' in html
    assert "The server&#x27;s SMTP relay" in html
    assert "Why this provider: the server&#x27;s default provider" in html
    assert 'data-testid="attempts">2<' in html
    assert 'data-testid="next-attempt"' in html
    assert 'data-testid="last-smtp-code">451<' in html
    assert "rcpt_to: 451 4.7.1 Greylisted, try again later" in html
    assert '<span class="badge">welcome</span>' in html and '<span class="badge">q4</span>' in html
    assert "A-17" in html and "customer" in html


def test_the_message_page_of_a_sent_message(as_alice, workspace):
    message = _message(
        workspace,
        status=Status.SENT,
        attempts=1,
        provider_kind="sendgrid",
        provider_message_id="sg-abc-123",
        last_smtp_code=250,
        sent_at=T0 + timedelta(seconds=3),
    )
    Event.objects.create(message=message, type=EventType.QUEUED, created_at=T0)
    Event.objects.create(message=message, type=EventType.SENT, created_at=T0 + timedelta(seconds=3), smtp_code=250)
    html = _page(as_alice, message)
    assert re.findall(r'data-event="(\w+)"', html) == ["queued", "sent"]
    assert "SendGrid" in html and "sg-abc-123" in html
    assert 'data-testid="next-attempt"' not in html


def test_a_submitted_message_has_its_queued_event(as_bob, alice, workspace):
    submission = parse_submission(
        {
            "from": alice.email,
            "to": ["ann@example.org"],
            "subject": "Welcome aboard",
            "text": "Hello",
            "category": "reminder",
            "tags": ["onboarding"],
            "metadata": {"plan": "pro"},
        }
    )
    (message,) = submit(alice, submission, workspace=workspace)
    html = _page(as_bob, message)
    assert re.findall(r'data-event="(\w+)"', html) == ["queued"]
    assert "Welcome aboard" in html and "Reminder" in html
    assert "onboarding" in html and "pro" in html
    assert "Not handed to a provider yet." in html


def test_the_page_shows_the_to_and_cc_every_recipient_of_the_request_saw(as_alice, alice, workspace):
    submission = parse_submission(
        {"from": alice.email, "to": [{"email": "ann@example.org", "name": "Ann"}, "ben@example.org"],
         "cc": ["cy@example.org"], "bcc": ["dee@example.org"], "subject": "Minutes", "text": "Hi"}
    )  # fmt: skip
    *_seen, hidden = submit(alice, submission, workspace=workspace)
    html = _page(as_alice, hidden)
    assert "Ann &lt;ann@example.org&gt;, ben@example.org" in html and "cy@example.org" in html


def test_foreign_missing_and_malformed_message_ids_are_404(as_alice, workspace, second_workspace, charlie_org):
    other = _message(second_workspace)
    charlies = Message.objects.create(
        organization=charlie_org, workspace=Workspace.objects.create(organization=charlie_org, name="C"),
        from_email="c@example.net", to_email="d@example.net", subject="Charlie's",
    )  # fmt: skip
    for message_id in [other.public_id, charlies.public_id, uuid.uuid4(), "not-a-uuid", "123"]:
        url = reverse("ws-message", args=[workspace.pk, message_id])
        assert as_alice.get(url).status_code == 404, message_id
    # Through its own workspace alice's other message is there.
    assert as_alice.get(reverse("ws-message", args=[second_workspace.pk, other.public_id])).status_code == 200


def test_bob_sees_his_workspace_and_not_one_he_was_not_granted(as_bob, workspace, second_workspace):
    mine = _message(workspace)
    theirs = _message(second_workspace, subject="Secret plans")
    assert _shown(_log(as_bob, workspace)) == [str(mine.public_id)]
    assert as_bob.get(reverse("ws-message", args=[workspace.pk, mine.public_id])).status_code == 200
    response = as_bob.get(reverse("ws-messages", args=[second_workspace.pk]))
    assert response.status_code == 404
    response = as_bob.get(reverse("ws-message", args=[second_workspace.pk, theirs.public_id]))
    assert response.status_code == 404
    assert "Secret plans" not in response.content.decode()


def test_charlie_gets_404_on_both_pages(as_charlie, charlie_org, workspace):
    message = _message(workspace)
    for url in [
        reverse("ws-messages", args=[workspace.pk]),
        reverse("ws-message", args=[workspace.pk, message.public_id]),
    ]:
        response = as_charlie.get(url)
        assert response.status_code == 404
        assert "Your order" not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, workspace):
    response = client.get(reverse("ws-messages", args=[workspace.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_side_menu_links_each_workspace_log(as_bob, as_charlie, charlie_org, workspace, second_workspace):
    html = as_bob.get(reverse("home")).content.decode()
    assert f'href="{reverse("ws-messages", args=[workspace.pk])}"' in html
    assert f'data-testid="nav-messages-{second_workspace.pk}"' not in html
    html = _log(as_bob, workspace)
    assert re.search(
        rf'class="navlink active" href="[^"]+" title="[^"]+" data-testid="nav-messages-{workspace.pk}"', html
    )
    html = as_charlie.get(reverse("home")).content.decode()
    assert "Marketing" not in html


def test_it_speaks_swedish(as_alice, workspace):
    message = _message(workspace, status=Status.BOUNCED, category=Category.REMINDER, last_smtp_code=550)
    Event.objects.create(
        message=message, type=EventType.BOUNCED, created_at=T0, smtp_code=550, enhanced_status="5.1.1",
        detail="User unknown",
    )  # fmt: skip
    response = as_alice.get(reverse("ws-messages", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="sv")
    html = response.content.decode()
    for text in ["Meddelandelogg", "Mottagare", "Ämne", "Kategori", "Leverantör", "Studsad", "Påminnelse", "Filtrera"]:
        assert text in html, text
    assert 'lang="sv"' in html
    html = as_alice.get(
        reverse("ws-messages", args=[workspace.pk]), {"recipient": "nobody"}, HTTP_ACCEPT_LANGUAGE="sv"
    ).content.decode()
    assert "Inga meddelanden matchar filtren." in html
    html = _page(as_alice, message, HTTP_ACCEPT_LANGUAGE="sv")
    for text in ["Tidslinje", "Leverans", "Försök", "Senaste SMTP-kod", "Studsad", "Taggar och metadata"]:
        assert text in html, text
    assert "550 5.1.1" in html

"""The dashboard's numbers (issue 10): per workspace its contacts, messages today and in the last
7 days by status, its last import and its effective provider with the reason; next steps on an
empty install."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from openesp.accounts.apikeys import create_api_key
from openesp.audience.actions import create_contact
from openesp.audience.models import ImportJob
from openesp.esp.models import EspConfig
from openesp.messaging.models import Message, Status

pytestmark = pytest.mark.django_db


def _card(html: str, workspace_id: int) -> str:
    start = html.index(f'data-testid="ws-card-{workspace_id}"')
    return html[start : html.index("</section>", start)]


def _message(workspace, status: str, days_ago: float = 0) -> None:
    created = timezone.now() - timedelta(days=days_ago)
    Message.objects.create(
        organization=workspace.organization,
        workspace=workspace,
        from_email="a@acme.example",
        to_email="b@example.org",
        subject="Hi",
        status=status,
        created_at=created,
    )


def test_each_workspace_shows_its_numbers(as_alice, alice, org, workspace):
    for address in ("a@example.net", "b@example.net", "c@example.net"):
        create_contact(workspace, address)
    _message(workspace, Status.SENT)
    _message(workspace, Status.SENT)
    _message(workspace, Status.BOUNCED)
    _message(workspace, Status.SENT, days_ago=3)
    _message(workspace, Status.DEFERRED, days_ago=10)  # outside both windows
    ImportJob.objects.create(workspace=workspace, file_name="march.csv")
    card = _card(as_alice.get(reverse("home")).content.decode(), workspace.pk)
    assert re.search(r'data-testid="contacts-count">3<', card)
    assert re.search(r'data-testid="today-count">3<', card)
    assert re.search(r'data-testid="week-count">4<', card)
    assert 'data-status="sent">Sent 2<' in card and 'data-status="bounced">Bounced 1<' in card
    assert 'data-status="sent">Sent 3<' in card  # the 7 days
    assert "deferred" not in card
    assert "march.csv" in card
    assert "no provider is configured" in card


def test_the_provider_and_its_reason_follow_the_organization(as_alice, org, workspace):
    EspConfig.objects.create(
        organization=org, kind="smtp", host="smtp.acme.example", port=587, from_email="news@acme.example"
    )
    card = _card(as_alice.get(reverse("home")).content.decode(), workspace.pk)
    assert "smtp.acme.example" in card and "the setting of organization Acme" in card


def test_an_empty_install_says_what_to_do_next(client):
    client.post(reverse("signup"), {"email": "dana@example.net", "name": "Dana", "password": "a long passphrase 42"})
    html = client.get(reverse("home")).content.decode()
    steps = html[html.index('data-testid="next-steps"') :]
    for text in ("Confirm your e-mail address", "Create an organization", "Set up an email provider"):
        assert text in steps, text
    assert f'href="{reverse("org-list")}">Create an organization' in steps


def test_the_steps_go_when_everything_is_done(as_alice, alice, org, workspace, operator_providers):
    create_contact(workspace, "a@example.net")
    create_api_key(alice)
    _message(workspace, Status.SENT)
    assert 'data-testid="next-steps"' not in as_alice.get(reverse("home")).content.decode()


def test_another_tenants_workspace_is_not_counted(as_charlie, charlie_org, workspace):
    _message(workspace, Status.SENT)
    html = as_charlie.get(reverse("home")).content.decode()
    assert f'ws-card-{workspace.pk}"' not in html and "Marketing" not in html


def test_the_dashboard_speaks_swedish(as_alice, workspace):
    html = as_alice.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    for text in ("Meddelanden i dag", "Meddelanden, senaste 7 dagarna", "Senaste import", "Nästa steg"):
        assert text in html, text

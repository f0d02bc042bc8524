"""Mail anyone can make openesp send to an address: one per OPENESP_MAIL_REQUEST_INTERVAL and 5
a day per address, whoever asks, answered as if sent, through the real views and routes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from openesp.accounts.limits import mail_key
from openesp.accounts.models import Invitation, Workspace
from openesp.audience import actions as audience
from openesp.audience import doubleoptin
from openesp.audience.consent import Consent
from openesp.lib.models import RateLimitBucket
from openesp.messaging.models import Message
from tests.api.conftest import api_for
from tests.limit_helpers import interval_passed
from tests.limits.helpers import page, row_counts

pytestmark = pytest.mark.django_db


def test_twenty_reset_requests_queue_one_mail_and_answer_alike(client, alice):
    first = client.post(reverse("password-reset"), {"email": alice.email}, REMOTE_ADDR="203.0.113.9")
    assert first.status_code == 200 and 'data-testid="reset-sent"' in first.content.decode()
    before = row_counts()
    # From many addresses: the limit is the recipient's, whoever asks.
    answers = [
        client.post(reverse("password-reset"), {"email": alice.email}, REMOTE_ADDR=f"198.51.100.{n}") for n in range(19)
    ]
    assert {(r.status_code, page(r)) for r in answers} == {(200, page(first))}
    assert row_counts() == before
    assert Message.objects.filter(to_email=alice.email).count() == 1


def test_an_unknown_address_answers_as_a_known_one(client, alice):
    known = [client.post(reverse("password-reset"), {"email": alice.email}) for _ in range(3)]
    unknown = [client.post(reverse("password-reset"), {"email": "nobody@example.org"}) for _ in range(3)]
    assert {(r.status_code, page(r)) for r in known + unknown} == {(200, page(known[0]))}
    assert not Message.objects.filter(to_email="nobody@example.org").exists()


def test_after_the_interval_another_goes_and_five_a_day_at_most(client, alice):
    for _round in range(8):
        client.post(reverse("password-reset"), {"email": alice.email.upper()})
        # The interval passes (its token comes back), the day does not (its count stays).
        RateLimitBucket.objects.filter(key=mail_key("password_reset", alice.email)).update(tokens=1, blocked_until=0)
    assert Message.objects.filter(to_email=alice.email).count() == 5


def test_verification_resends_are_limited(client):
    response = client.post(
        reverse("signup"), {"email": "new@example.com", "name": "New", "password": "a sturdy passphrase"}
    )
    assert response.status_code == 302
    for _again in range(3):
        response = client.post(reverse("verify-email-resend"), follow=True)
        # No provider here, so the honest answer is "queued" — the same each time, limited or not.
        assert "A new confirmation link to new@example.com is queued" in response.content.decode()
    assert Message.objects.filter(to_email="new@example.com").count() == 1


def test_an_invitation_sent_again_too_soon_is_answered_as_sent(client, alice, org, workspace):
    client.force_login(alice)
    url = reverse("org-invitations", args=[org.pk])
    client.post(url, {"email": "dana@example.com", "role": "member", "workspace": ""})
    invitation = Invitation.objects.get(email="dana@example.com")
    api = api_for(alice)
    before = row_counts()
    again = client.post(url, {"email": "Dana@example.com", "role": "member", "workspace": ""}, follow=True)
    assert "The invitation to dana@example.com is queued" in again.content.decode()
    assert row_counts() == before
    assert Invitation.objects.get(email="dana@example.com") == invitation and invitation.status == "pending"
    # Over the API too: the pending invitation, 201, nothing new.
    answer = api.post(f"/api/v1/organizations/{org.pk}/invitations", {"email": "dana@example.com"})
    assert answer.status_code == 201 and answer.json()["id"] == invitation.pk
    assert row_counts() == before
    # A first invitation elsewhere for the same address, too soon: refused, saying when to come back.
    elsewhere = api.post(
        f"/api/v1/organizations/{org.pk}/invitations", {"email": "dana@example.com", "workspace": workspace.pk}
    )
    assert elsewhere.status_code == 429 and int(elsewhere["Retry-After"]) > 0
    assert elsewhere.json()["error"] == "throttled"
    page_answer = client.post(url, {"email": "dana@example.com", "role": "member", "workspace": str(workspace.pk)})
    assert page_answer.status_code == 429 and "try again in" in page_answer.content.decode()
    assert row_counts() == before
    assert Message.objects.filter(to_email="dana@example.com").count() == 1


def test_double_opt_in_resends_are_limited_per_address_across_workspaces(alice, workspace, charlie, charlie_org):
    other = Workspace.objects.create(organization=charlie_org, name="Elsewhere")
    subscriptions = []
    for ws in (workspace, other):
        contact = audience.create_contact(ws, "reader@example.net")
        doi = audience.create_list(ws, "Digest", double_opt_in=True)
        subscriptions.append(audience.subscribe(contact, doi, Consent(source="form")))
    # The automatic first mails went out; later, one workspace sends its mail again.
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    doubleoptin.resend_confirmation(subscriptions[0])
    with pytest.raises(doubleoptin.TooSoon):
        doubleoptin.resend_confirmation(subscriptions[1])
    interval_passed("confirm_subscription", "reader@example.net")
    doubleoptin.resend_confirmation(subscriptions[1])
    assert Message.objects.filter(to_email="reader@example.net").count() == 4

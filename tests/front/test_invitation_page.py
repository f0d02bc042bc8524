"""The page an invitation link opens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.accounts import actions
from openesp.accounts.models import Invitation, Membership
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(alice, org):
    _invitation, token = actions.invite(alice, org.pk, "dana@example.org")
    return token


def test_it_shows_the_organization_and_the_inviter(client, invited):
    r = client.get(reverse("invitation", args=[invited]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "Alice has invited you to the organization Acme." in html
    assert "email=dana%40example.org" in html  # sign up with the address filled in


def test_an_unknown_token_is_not_found(client):
    assert client.get(reverse("invitation", args=["nope"])).status_code == 404


def test_accepting_needs_a_login_then_works(client, invited, org):
    r = client.post(reverse("invitation", args=[invited]), {"action": "accept"})
    assert r.status_code == 302
    assert r["Location"].startswith(reverse("login"))
    client.post(
        reverse("signup") + "?email=dana@example.org",
        {"email": "dana@example.org", "name": "Dana", "password": PASSWORD},
    )
    r = client.post(reverse("invitation", args=[invited]), {"action": "accept"})
    assert r.status_code == 302
    assert Membership.objects.filter(organization=org, user__email="dana@example.org").exists()


def test_the_wrong_account_is_told_which_address_to_use(as_charlie, invited):
    html = as_charlie.get(reverse("invitation", args=[invited])).content.decode()
    assert "dana@example.org" in html
    assert 'data-testid="accept"' not in html


def test_declining_works_without_login(client, invited):
    r = client.post(reverse("invitation", args=[invited]), {"action": "decline"})
    assert r.status_code == 302
    assert Invitation.objects.get().status == "declined"
    html = client.get(reverse("invitation", args=[invited])).content.decode()
    assert "badge-declined" in html
    assert 'value="accept"' not in html

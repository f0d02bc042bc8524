"""The dashboard: organizations, workspaces, invitations addressed to the user."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.accounts import actions

pytestmark = pytest.mark.django_db


def test_it_lists_organizations_workspaces_and_invitations(as_bob, alice, org, workspace, charlie_org, charlie):
    actions.invite(charlie, charlie_org.pk, "bob@example.org")
    html = as_bob.get(reverse("home")).content.decode()
    assert "Acme" in html
    assert "Marketing" in html
    assert "Charlie Corp" in html  # the invitation addressed to bob
    assert "Welcome, Bob" in html


def test_the_header_menu_opens_account_and_organization(as_alice, org):
    html = as_alice.get(reverse("home")).content.decode()
    assert 'data-testid="user-menu"' in html
    assert reverse("account") in html
    assert reverse("org-list") in html


@pytest.mark.parametrize("name", ["home", "account", "email-status", "email-choose", "email-custom", "org-list"])
def test_account_pages_render_for_alice(as_alice, org, workspace, name):
    response = as_alice.get(reverse(name))
    assert response.status_code == 200
    assert "Alice" in response.content.decode()  # the name in the header's menu


@pytest.mark.parametrize("name", ["login", "signup", "password-reset"])
def test_public_pages_render(client, name):
    assert client.get(reverse(name)).status_code == 200


def test_the_language_choice_names_each_language_in_itself(as_alice):
    html = as_alice.get(reverse("account"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">English<" in html and ">Svenska<" in html

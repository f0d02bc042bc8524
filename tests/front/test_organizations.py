"""Organizations, workspaces, members and invitations pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from openesp.accounts import actions
from openesp.accounts.models import Invitation, Membership, Organization, Role, Workspace
from openesp.messaging.models import Category, Message

pytestmark = pytest.mark.django_db


def test_creating_an_organization_makes_alice_its_owner(as_alice, alice):
    r = as_alice.post(reverse("org-list"), {"name": "Umbrella"})
    assert r.status_code == 302
    organization = Organization.objects.get(name="Umbrella")
    assert Membership.objects.get(organization=organization, user=alice).role == Role.OWNER
    assert "Umbrella" in as_alice.get(reverse("org-list")).content.decode()
    r = as_alice.post(reverse("org-list"), {"name": ""})
    assert r.status_code == 400
    assert 'data-error-for="name"' in r.content.decode()


def test_every_org_page_renders_for_alice_and_bob(as_alice, as_bob, org, workspace):
    for client in (as_alice, as_bob):
        for name, args in [
            ("org-workspaces", [org.pk]),
            ("org-workspace", [org.pk, workspace.pk]),
            ("org-members", [org.pk]),
            ("org-invitations", [org.pk]),
            ("org-settings", [org.pk]),
        ]:
            assert client.get(reverse(name, args=args)).status_code == 200, name
    assert as_alice.get(reverse("org-detail", args=[org.pk])).status_code == 302


def test_workspaces_are_created_renamed_and_deleted(as_alice, org):
    as_alice.post(reverse("org-workspaces", args=[org.pk]), {"name": "Sales"})
    ws = Workspace.objects.get(organization=org, name="Sales")
    as_alice.post(reverse("org-workspace", args=[org.pk, ws.pk]), {"name": "Sales EU"})
    ws.refresh_from_db()
    assert ws.name == "Sales EU"
    as_alice.post(reverse("org-workspace-delete", args=[org.pk, ws.pk]))
    assert not Workspace.objects.filter(pk=ws.pk).exists()


def test_bob_cannot_manage_workspaces(as_bob, org, workspace):
    r = as_bob.post(reverse("org-workspaces", args=[org.pk]), {"name": "Bob's"})
    assert r.status_code == 403
    assert as_bob.post(reverse("org-workspace-delete", args=[org.pk, workspace.pk])).status_code == 403
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_a_workspace_of_another_organization_is_not_found_under_this_one(as_alice, org, alice):
    other = actions.create_organization(alice, "Other")
    ws = actions.create_workspace(alice, other.pk, "Elsewhere")
    assert as_alice.get(reverse("org-workspace", args=[org.pk, ws.pk])).status_code == 404


def test_inviting_queues_an_org_invitation_mail(as_alice, org, workspace):
    r = as_alice.post(reverse("org-invitations", args=[org.pk]), {"email": "dana@example.org", "role": "member"})
    assert r.status_code == 302
    invitation = Invitation.objects.get(email="dana@example.org")
    mail = Message.objects.get(to_email="dana@example.org")
    assert mail.category == Category.ORG_INVITATION
    r = as_alice.post(
        reverse("org-invitations", args=[org.pk]),
        {"email": "erik@example.org", "role": "viewer", "workspace": str(workspace.pk)},
    )
    assert Message.objects.get(to_email="erik@example.org").category == Category.WORKSPACE_INVITATION
    html = as_alice.get(reverse("org-invitations", args=[org.pk])).content.decode()
    assert "dana@example.org" in html and "erik@example.org" in html
    as_alice.post(reverse("org-invitation-revoke", args=[org.pk, invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.status == "revoked"


def test_invitation_errors_name_the_field(as_alice, org, bob):
    r = as_alice.post(reverse("org-invitations", args=[org.pk]), {"email": bob.email, "role": "member"})
    assert r.status_code == 400
    html = r.content.decode()
    assert 'data-error-for="email"' in html
    assert "member of the organization already" in html


def test_expired_invitations_say_so(as_alice, alice, org):
    invitation, _token = actions.invite(alice, org.pk, "late@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    html = as_alice.get(reverse("org-invitations", args=[org.pk])).content.decode()
    assert "badge-expired" in html


def test_bob_cannot_invite(as_bob, org):
    r = as_bob.post(reverse("org-invitations", args=[org.pk]), {"email": "x@example.org", "role": "member"})
    assert r.status_code == 403
    assert not Invitation.objects.exists()


def test_members_change_role_workspaces_and_leave(as_alice, as_bob, org, workspace, bob):
    membership = Membership.objects.get(organization=org, user=bob)
    other = Workspace.objects.create(organization=org, name="Support")
    as_alice.post(
        reverse("org-member-change", args=[org.pk, membership.pk]),
        {"role": "admin", "workspaces_sent": "1", "workspaces": [str(other.pk)]},
    )
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert list(membership.workspaces.all()) == [other]
    r = as_bob.post(reverse("org-member-remove", args=[org.pk, membership.pk]))
    assert r.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_bob_cannot_change_roles(as_bob, org, alice):
    owner = Membership.objects.get(organization=org, user=alice)
    r = as_bob.post(reverse("org-member-change", args=[org.pk, owner.pk]), {"role": "member"})
    assert r.status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_the_last_owner_cannot_leave(as_alice, org, alice):
    owner = Membership.objects.get(organization=org, user=alice)
    r = as_alice.post(reverse("org-member-remove", args=[org.pk, owner.pk]), follow=True)
    assert "at least one owner" in r.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_the_workspace_page_leads_to_its_contacts_and_message_log(as_alice, org, workspace):
    page = as_alice.get(reverse("org-workspace", args=[org.pk, workspace.pk])).content.decode()
    assert f'href="{reverse("ws-contacts", args=[workspace.pk])}" data-testid="open-contacts"' in page
    assert f'href="{reverse("ws-messages", args=[workspace.pk])}" data-testid="open-message-log"' in page

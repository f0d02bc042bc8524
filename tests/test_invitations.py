"""Organization and workspace invitations: the mail is queued with the invitation, and the
token link accepts, declines, expires and can be revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from openesp.accounts import actions
from openesp.accounts.access import NotAllowed
from openesp.accounts.models import Invitation, Membership, Role, User
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Event, Message

pytestmark = pytest.mark.django_db


def test_it_queues_the_invitation_mail_with_the_invitation(alice, org):
    invitation, token = actions.invite(alice, org.pk, "Dana@Example.com", Role.ADMIN)
    message = Message.objects.get(category="org_invitation")
    assert (message.to_email, message.status, message.organization, message.user) == (
        "dana@example.com",
        "queued",
        org,
        alice,
    )
    assert token in message.text_body and "Acme" in message.subject
    assert Event.objects.filter(message=message, type="queued").exists()
    # Only a hash of the token is stored.
    assert token not in invitation.token_hash
    assert message.metadata == {"invitation_id": str(invitation.pk), "openesp_purpose": "invitation"}


def test_it_creates_no_mail_when_the_invitation_rolls_back(alice, org):
    def invite_then_fail() -> None:
        with transaction.atomic():
            actions.invite(alice, org.pk, "dana@example.com")
            raise RuntimeError("later step failed")

    with pytest.raises(RuntimeError):
        invite_then_fail()
    assert not Message.objects.exists() and not Invitation.objects.exists()


def test_it_queues_a_workspace_invitation(alice, org, workspace):
    actions.invite(alice, org.pk, "dana@example.com", workspace=workspace)
    message = Message.objects.get()
    assert (message.category, message.workspace) == ("workspace_invitation", workspace)
    assert "Marketing" in message.subject


def test_it_accepts_with_the_invited_address(alice, org, workspace):
    _invitation, token = actions.invite(alice, org.pk, "dana@example.com", workspace=workspace)
    dana = User.objects.create_user("dana@example.com", "x" * 12)
    membership = actions.accept_invitation(dana, token)
    assert membership.role == Role.MEMBER
    assert list(membership.workspaces.all()) == [workspace]
    dana.refresh_from_db()
    assert dana.email_verified
    with pytest.raises(InvalidInput, match="accepted"):
        actions.accept_invitation(dana, token)


def test_it_refuses_another_account(alice, org, charlie):
    _invitation, token = actions.invite(alice, org.pk, "dana@example.com")
    with pytest.raises(InvalidInput, match=r"sent to dana@example\.com"):
        actions.accept_invitation(charlie, token)
    assert not Membership.objects.filter(user=charlie, organization=org).exists()


def test_it_declines_without_an_account(alice, org):
    invitation, token = actions.invite(alice, org.pk, "dana@example.com")
    actions.decline_invitation(token)
    invitation.refresh_from_db()
    assert invitation.status == "declined"


def test_it_expires(alice, org):
    invitation, token = actions.invite(alice, org.pk, "dana@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    invitation.refresh_from_db()
    assert invitation.effective_status == "expired"
    dana = User.objects.create_user("dana@example.com", "x" * 12)
    with pytest.raises(InvalidInput, match="expired"):
        actions.accept_invitation(dana, token)


def test_it_revokes_and_replaces(alice, org):
    first, first_token = actions.invite(alice, org.pk, "dana@example.com")
    _second, second_token = actions.invite(alice, org.pk, "dana@example.com")
    first.refresh_from_db()
    assert first.status == "revoked"
    with pytest.raises(InvalidInput, match="revoked"):
        actions.decline_invitation(first_token)
    actions.revoke_invitation(alice, Invitation.objects.get(status="pending"))
    with pytest.raises(InvalidInput, match="revoked"):
        actions.decline_invitation(second_token)


def test_it_refuses_an_unknown_token(db):
    with pytest.raises(InvalidInput, match="not valid"):
        actions.decline_invitation("nope")


def test_it_lets_only_managers_invite(bob, org, charlie):
    with pytest.raises(NotAllowed):
        actions.invite(bob, org.pk, "dana@example.com")
    with pytest.raises(Http404):
        actions.invite(charlie, org.pk, "dana@example.com")
    assert not Message.objects.exists()


def test_it_refuses_inviting_a_member(alice, bob, org):
    with pytest.raises(InvalidInput, match="member of the organization already"):
        actions.invite(alice, org.pk, "bob@example.org")


def test_it_keeps_the_last_owner(alice, org):
    owner = Membership.objects.get(user=alice, organization=org)
    with pytest.raises(InvalidInput, match="at least one owner"):
        actions.change_membership(alice, owner, role=Role.MEMBER)
    with pytest.raises(InvalidInput, match="at least one owner"):
        actions.remove_membership(alice, owner)


def test_it_lets_only_owners_make_owners(alice, bob, org):
    admin = Membership.objects.get(user=bob, organization=org)
    actions.change_membership(alice, admin, role=Role.ADMIN)
    with pytest.raises(NotAllowed):
        actions.change_membership(bob, admin, role=Role.OWNER)

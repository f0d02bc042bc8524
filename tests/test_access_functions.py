"""The access functions of accounts, esp and messaging: a missing, a malformed, a too-large and
a foreign id answer the same 404; a confined actor (a workspace key) reaches only its
organization; viewers and plain members are refused with the reason.

alice owns Acme, bob is a member with its workspace, charlie owns Charlie Corp (conftest).
"""

from __future__ import annotations

import uuid

import pytest
from django.http import Http404

from openesp.accounts import actions
from openesp.accounts.access import (
    Actor,
    NotAllowed,
    access_invitation,
    access_member,
    membership_for,
    memberships_of,
    pending_invitations_to,
    workspace_for,
    workspace_named,
)
from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.esp.access import access_managed_config, organization_config, personal_config
from openesp.esp.models import EspConfig
from openesp.lib.errors import InvalidInput
from openesp.messaging.access import (
    access_message,
    access_sending_domain,
    visible_messages,
    workspace_messages,
)
from openesp.messaging.models import Message
from openesp.messaging.senders import add_sending_domain
from tests.limit_helpers import interval_passed

pytestmark = pytest.mark.django_db

TOO_LARGE = 2**63
NOT_IDS: list[object] = [0, -1, TOO_LARGE, "x", None, True, 10**30]


def _message(user: User, workspace: Workspace | None) -> Message:
    return Message.objects.create(
        user=user,
        organization=workspace.organization if workspace is not None else None,
        workspace=workspace,
        from_email=user.email,
        to_email="ann@example.org",
        subject="Hi",
    )


@pytest.fixture
def charlie_workspace(charlie_org: Organization) -> Workspace:
    return Workspace.objects.create(organization=charlie_org, name="Charlie's")


# --- members and invitations --------------------------------------------------------------------


def test_a_member_is_found_in_its_organization_only(alice, bob, charlie, org, charlie_org):
    bobs = Membership.objects.get(organization=org, user=bob)
    assert access_member(alice, org.pk, bobs.pk) == bobs
    # charlie is no member of Acme: the organization itself is not found.
    with pytest.raises(Http404, match="organization not found"):
        access_member(charlie, org.pk, bobs.pk)
    # A membership of another organization, looked up through charlie's own, is missing.
    with pytest.raises(Http404, match="member not found"):
        access_member(charlie, charlie_org.pk, bobs.pk)
    for bad in NOT_IDS:
        with pytest.raises(Http404, match="member not found"):
            access_member(alice, org.pk, bad)
        with pytest.raises(Http404, match="organization not found"):
            access_member(alice, bad, bobs.pk)


def test_a_confined_actor_reaches_members_of_its_organization_only(alice, org, charlie, charlie_org):
    # alice also joins Charlie Corp; a key confined to Acme still cannot see its members.
    charlies = Membership.objects.get(organization=charlie_org, user=charlie)
    Membership.objects.create(organization=charlie_org, user=alice, role=Role.MEMBER)
    assert access_member(alice, charlie_org.pk, charlies.pk) == charlies
    with pytest.raises(Http404, match="organization not found"):
        access_member(Actor(alice, org.pk), charlie_org.pk, charlies.pk)


def test_own_memberships_within_the_confinement(alice, org, charlie_org):
    Membership.objects.create(organization=charlie_org, user=alice, role=Role.VIEWER)
    assert [m.organization for m in memberships_of(alice)] == [org, charlie_org]  # Acme < Charlie Corp
    assert [m.organization for m in memberships_of(Actor(alice, charlie_org.pk))] == [charlie_org]


def test_an_invitation_is_found_by_members_of_its_organization(alice, bob, charlie, org, charlie_org):
    invitation, _token = actions.invite(alice, org.pk, "dana@example.com")
    assert access_invitation(bob, invitation.pk) == invitation
    assert access_invitation(alice, invitation.pk, organization_id=org.pk) == invitation
    for actor, organization_id in [
        (charlie, None),  # an outsider
        (alice, charlie_org.pk),  # named under another organization
        (Actor(alice, charlie_org.pk), None),  # a key confined elsewhere
    ]:
        with pytest.raises(Http404, match="invitation not found"):
            access_invitation(actor, invitation.pk, organization_id=organization_id)
    for bad in NOT_IDS:
        with pytest.raises(Http404, match="invitation not found"):
            access_invitation(alice, bad)


def test_pending_invitations_are_those_to_the_callers_address(alice, org, workspace, charlie):
    to_charlie, _token = actions.invite(alice, org.pk, "Charlie@Example.net")
    actions.invite(alice, org.pk, "dana@example.com")
    interval_passed("invitation", "charlie@example.net")  # a second invitation mail, at once
    revoked, _token = actions.invite(alice, org.pk, "charlie@example.net", workspace=workspace)
    actions.revoke_invitation(alice, revoked)
    assert list(pending_invitations_to(charlie)) == [to_charlie]


def test_a_workspace_named_in_a_body_is_one_of_the_organization(org, workspace, charlie_workspace):
    assert workspace_named(org, workspace.pk) == workspace
    for bad in [charlie_workspace.pk, *NOT_IDS]:
        with pytest.raises(InvalidInput) as caught:
            workspace_named(org, bad)
        assert [(p.field, p.reason) for p in caught.value.problems] == [
            ("workspace", "no such workspace in this organization")
        ]


# --- provider configs ---------------------------------------------------------------------------


def test_a_personal_config_is_its_owners_only(alice, bob, org):
    config = EspConfig.objects.create(user=alice, kind="smtp", host="smtp.example.com")
    assert personal_config(alice) == config and personal_config(bob) is None
    assert access_managed_config(alice, config.pk) == config
    # Not to another user, and not to alice's own workspace key (no personal settings there).
    for actor in [bob, Actor(alice, org.pk)]:
        with pytest.raises(Http404, match="provider config not found"):
            access_managed_config(actor, config.pk)


def test_an_organization_config_is_tested_by_its_managers(alice, bob, charlie, org, charlie_org):
    config = EspConfig.objects.create(organization=org, kind="smtp", host="smtp.example.com")
    assert organization_config(org) == config and organization_config(charlie_org) is None
    assert access_managed_config(alice, config.pk) == config
    assert access_managed_config(Actor(alice, org.pk), config.pk) == config
    with pytest.raises(NotAllowed, match="only an owner or an admin"):
        access_managed_config(bob, config.pk)
    for actor in [charlie, Actor(alice, charlie_org.pk)]:
        with pytest.raises(Http404, match="provider config not found"):
            access_managed_config(actor, config.pk)
    for bad in NOT_IDS:
        with pytest.raises(Http404, match="provider config not found"):
            access_managed_config(alice, bad)


# --- messages and sending domains ----------------------------------------------------------------


def test_messages_visible_to_each_caller(alice, bob, charlie, org, workspace, charlie_workspace):
    in_acme = _message(alice, workspace)
    alices_own = _message(alice, None)
    charlies = _message(charlie, charlie_workspace)
    assert set(visible_messages(alice)) == {in_acme, alices_own}
    # A workspace key never sees personal mail.
    assert set(visible_messages(Actor(alice, org.pk))) == {in_acme}
    # bob reaches the workspace but not alice's personal mail.
    assert set(visible_messages(bob)) == {in_acme}
    assert set(visible_messages(charlie)) == {charlies}
    assert set(workspace_messages(workspace)) == {in_acme}


def test_a_message_is_found_by_its_public_id_by_those_who_see_it(alice, bob, charlie, workspace, charlie_workspace):
    in_acme = _message(alice, workspace)
    alices_own = _message(alice, None)
    assert access_message(bob, str(in_acme.public_id)) == in_acme
    assert access_message(alice, in_acme.public_id, workspace=workspace) == in_acme
    assert access_message(alice, alices_own.public_id) == alices_own
    for actor, message_id, in_workspace in [
        (charlie, in_acme.public_id, None),
        (bob, alices_own.public_id, None),
        (alice, alices_own.public_id, workspace),  # visible, but not in that workspace
        (charlie, in_acme.public_id, charlie_workspace),
        (alice, uuid.uuid4(), None),
        (alice, "not-a-uuid", None),
        (alice, "", None),
        (alice, 12, None),
    ]:
        with pytest.raises(Http404, match="message not found"):
            access_message(actor, message_id, workspace=in_workspace)


def test_a_sending_domain_is_found_in_the_callers_workspaces(alice, bob, charlie, org, workspace, charlie_org):
    domain = add_sending_domain("mail.acme.example", workspace)
    operators = add_sending_domain("mail.operator.example", None)
    assert access_sending_domain(alice, domain.pk) == domain
    assert access_sending_domain(bob, domain.pk) == domain
    for actor, domain_id in [
        (charlie, domain.pk),
        (Actor(alice, charlie_org.pk), domain.pk),
        (alice, operators.pk),  # the operator's, managed with `openesp dkim` only
        *[(alice, bad) for bad in NOT_IDS],
    ]:
        with pytest.raises(Http404, match="sending domain not found"):
            access_sending_domain(actor, domain_id)


def test_the_pages_lookups_answer_404_for_ids_the_database_cannot_hold(alice, org, workspace):
    # The web URLs take <int:…>, which has no upper bound: 10**20 reached SQLite as an
    # OverflowError (a 500) before these lookups bounded their ids.
    assert membership_for(alice, org.pk).organization == org and workspace_for(alice, workspace.pk) == workspace
    for bad in NOT_IDS:
        with pytest.raises(Http404):
            membership_for(alice, bad)  # type: ignore[arg-type]
        with pytest.raises(Http404):
            workspace_for(alice, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/organizations/{big}/", "/organizations/{big}/members/", "/workspaces/{big}/"])
def test_a_page_of_an_id_too_large_is_a_404(alice, path):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(alice)
    assert client.get(path.format(big=10**20)).status_code == 404

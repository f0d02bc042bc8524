"""Platform mail that lost its purpose before it went out is cancelled, not delivered: the
verification of a verified address, an invitation accepted, declined, revoked or replaced, a
password reset already used."""

from __future__ import annotations

import re

import pytest

from openesp.accounts import actions
from openesp.accounts.models import Role, User
from openesp.messaging.actions import enqueue_message
from openesp.messaging.models import Event, EventType, Message, Status

pytestmark = pytest.mark.django_db


def _cancelled_because(message: Message) -> str:
    message.refresh_from_db()
    assert message.status == Status.CANCELLED, message.status
    return Event.objects.get(message=message, type=EventType.CANCELLED).detail


def test_verifying_the_address_cancels_the_verification_mails_still_queued():
    user = actions.sign_up("new@example.com", "a long enough password")
    again = actions.send_verification_mail(user)
    first = Message.objects.exclude(pk=again.pk).get(to_email="new@example.com")
    token = re.search(r"/verify/([^/\s]+)/", first.text_body)
    assert token is not None
    actions.verify_email(token.group(1))
    assert _cancelled_because(first) == "the address was verified before this mail went out"
    assert _cancelled_because(again) == "the address was verified before this mail went out"


def test_a_mail_already_sent_stays_as_it_is():
    user = actions.sign_up("new@example.com", "a long enough password")
    sent = Message.objects.get(to_email="new@example.com")
    Message.objects.filter(pk=sent.pk).update(status=Status.SENT)
    actions.verify_email(re.search(r"/verify/([^/\s]+)/", sent.text_body).group(1))  # type: ignore[union-attr]
    sent.refresh_from_db()
    assert sent.status == Status.SENT and user.pk


@pytest.mark.parametrize("answer", ["accept", "decline", "revoke", "replace"])
def test_an_invitation_answered_cancels_its_mail(alice, org, answer):
    invitation, token = actions.invite(alice, org.pk, "dana@example.com", Role.MEMBER)
    mail = Message.objects.get(category="org_invitation")
    if answer == "accept":
        dana = User.objects.create_user("dana@example.com", "x" * 12)
        verification = actions.send_verification_mail(dana)
        actions.accept_invitation(dana, token)
        # Accepting proves the address too: its verification mail is moot as well.
        assert _cancelled_because(verification) == "the address was verified before this mail went out"
    elif answer == "decline":
        actions.decline_invitation(token)
    elif answer == "revoke":
        actions.revoke_invitation(alice, invitation)
    else:
        actions.invite(alice, org.pk, "dana@example.com", Role.MEMBER)
    reason = {
        "accept": "accepted",
        "decline": "declined",
        "revoke": "revoked",
        "replace": "replaced by a newer invitation",
    }[answer]
    assert _cancelled_because(mail) == f"the invitation was {reason} before this mail went out"
    if answer == "replace":
        newer = Message.objects.filter(category="org_invitation").exclude(pk=mail.pk).get()
        assert newer.status == Status.QUEUED


def test_using_a_password_reset_cancels_the_reset_mails_still_queued(alice):
    mail = actions.send_password_reset_mail(alice.email)
    assert isinstance(mail, Message)
    actions.password_was_reset(alice)
    assert _cancelled_because(mail) == "the password was reset before this mail went out"


def test_mail_sent_through_the_api_with_the_same_metadata_is_left_alone(alice, workspace):
    # Only platform mail is withdrawn: a customer's own message with look-alike metadata is theirs.
    own = enqueue_message(
        category="transactional",
        to_email="x@example.com",
        subject="s",
        text_body="t",
        workspace=workspace,
        metadata={"openesp_purpose": "password_reset", "user_id": str(alice.pk)},
    )
    mail = actions.send_password_reset_mail(alice.email)
    actions.password_was_reset(alice)
    own.refresh_from_db()
    assert own.status == Status.QUEUED
    assert _cancelled_because(mail)  # type: ignore[arg-type]

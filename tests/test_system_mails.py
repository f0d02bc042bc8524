"""Sign-up verification and password reset mails are queued as system messages."""

from __future__ import annotations

import re

import pytest

from openesp.accounts import actions
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Message

pytestmark = pytest.mark.django_db


def test_it_queues_a_verification_mail_that_verifies(db):
    user = actions.sign_up("New@Example.com", "a long enough password", name="New")
    message = Message.objects.get(to_email="new@example.com")
    assert message.category == "system"
    token = re.search(r"/verify/([^/\s]+)/", message.text_body)
    assert token is not None
    assert actions.verify_email(token.group(1)).pk == user.pk
    user.refresh_from_db()
    assert user.email_verified


def test_it_refuses_a_tampered_verification_token(db):
    with pytest.raises(InvalidInput, match="invalid or has expired"):
        actions.verify_email("bogus:token")


def test_it_refuses_a_duplicate_sign_up(alice):
    with pytest.raises(InvalidInput) as info:
        actions.sign_up("ALICE@example.org", "a long enough password")
    assert info.value.as_dict() == {"email": "an account with this address exists already"}


def test_it_queues_a_password_reset_only_for_an_account(alice):
    assert actions.send_password_reset_mail("nobody@example.org") is None
    message = actions.send_password_reset_mail("Alice@Example.org")
    assert message is not None and message.category == "system" and message.to_email == "alice@example.org"


def test_it_writes_the_mail_in_the_users_language(alice):
    alice.language = "sv"
    alice.save()
    message = actions.send_password_reset_mail(alice.email)
    assert message is not None
    assert message.subject != "Reset your openesp password" or not _has_swedish_catalog()


def _has_swedish_catalog() -> bool:
    from django.utils import translation

    with translation.override("sv"):
        return translation.gettext("Reset your openesp password") != "Reset your openesp password"

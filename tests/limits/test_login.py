"""Log-in limits through the real view: per account and client address, a growing block, one
notice to the owner a day, and the owner logging in from elsewhere all the while."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.accounts.models import User
from openesp.lib import ratelimit
from openesp.messaging.models import Message
from tests.conftest import PASSWORD
from tests.limits.helpers import page, row_counts

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"


def _login(client, email: str, password: str, address: str):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address)


def test_the_sixth_wrong_password_is_refused_and_the_owner_still_logs_in_from_elsewhere(client, alice):
    for _attempt in range(5):
        response = _login(client, alice.email, "wrong password", ATTACKER)
        assert response.status_code == 200
        assert "not right" in response.content.decode()

    before = row_counts()
    sixth = _login(client, alice.email, "wrong password", ATTACKER)
    assert sixth.status_code == 429
    page = sixth.content.decode()
    assert 'data-testid="refused"' in page and "Try again in 1 minute" in page
    assert 'name="password"' in page  # the same page, the form again
    # Blocked is blocked: the right password from that address does not get through either.
    right_from_attacker = _login(client, alice.email, PASSWORD, ATTACKER)
    assert right_from_attacker.status_code == 429
    assert row_counts() == before  # no session, no mail, nothing but the limiter's row
    assert "_auth_user_id" not in client.session

    owner = _login(client, alice.email, PASSWORD, ELSEWHERE)
    assert owner.status_code == 302 and owner["Location"] == reverse("home")
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_the_owner_gets_one_notice_a_day_in_their_language(client, alice):
    alice.language = "sv"
    alice.save(update_fields=["language"])
    for _attempt in range(6):
        _login(client, alice.email, "wrong password", ATTACKER)
    [notice] = Message.objects.filter(to_email=alice.email)
    assert notice.category == "system" and notice.metadata["openesp_purpose"] == "login_failures"
    assert ATTACKER in notice.subject and ATTACKER in notice.text_body
    assert "Misslyckade inloggningar" in notice.subject  # Swedish, as alice chose
    # Another block the same day, from another address: no second mail.
    for _attempt in range(6):
        _login(client, alice.email, "wrong password", "192.0.2.44")
    assert Message.objects.filter(to_email=alice.email).count() == 1


def test_an_unknown_account_is_answered_as_a_known_one(client, alice):
    known = [_login(client, alice.email, "wrong password", ATTACKER) for _ in range(6)]
    unknown = [_login(client, "nobody@example.org", "wrong password", ATTACKER) for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [200] * 5 + [429]
    assert page(known[-1]).replace(alice.email, "X") == page(unknown[-1]).replace("nobody@example.org", "X")
    assert not Message.objects.filter(to_email="nobody@example.org").exists()


def test_a_right_password_forgets_the_failures_of_that_address(client, alice):
    for _attempt in range(4):
        _login(client, alice.email, "wrong password", ATTACKER)
    assert _login(client, alice.email, PASSWORD, ATTACKER).status_code == 302
    client.logout()
    for _attempt in range(4):
        assert _login(client, alice.email, "wrong password", ATTACKER).status_code == 200
    assert _login(client, alice.email, PASSWORD, ATTACKER).status_code == 302


def test_the_block_grows_and_the_operator_can_lift_it(client, alice):
    for _attempt in range(5):
        _login(client, alice.email, "wrong password", ATTACKER)
    [block] = ratelimit.blocked(prefix="login:")
    assert block.key == f"login:{alice.email}:{ATTACKER}"
    assert "failed log-ins for alice@example.org from 203.0.113.9" in block.reason
    assert 0 < block.seconds_left <= 60
    # The block runs out (moved into the past), the attacker tries again: twice as long now.
    ratelimit.RateLimitBucket.objects.filter(key=block.key).update(blocked_until=0)
    assert _login(client, alice.email, "wrong password", ATTACKER).status_code == 200
    [longer] = ratelimit.blocked(prefix="login:")
    assert 60 < longer.seconds_left <= 120 and longer.strikes == 2
    assert ratelimit.lift(block.key)
    assert _login(client, alice.email, PASSWORD, ATTACKER).status_code == 302


def test_case_and_spaces_do_not_make_a_new_account_to_try(client, alice):
    variants = [
        "alice@example.org",
        " Alice@Example.org ",
        "aLICE@example.org",
        "alice@EXAMPLE.ORG",
        "ALICE@example.org",
    ]
    for variant in variants:
        _login(client, variant, "wrong password", ATTACKER)
    assert _login(client, "aLiCe@example.org", "wrong password", ATTACKER).status_code == 429


def test_an_inactive_account_counts_like_any_other(client, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    codes = [_login(client, alice.email, PASSWORD, ATTACKER).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]

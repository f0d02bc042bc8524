"""Effective provider precedence: every combination of the three levels."""

from __future__ import annotations

import itertools

import pytest

from openesp.esp.effective import effective_provider
from openesp.esp.models import EspConfig

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _operator_runs_both(settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.operator"
    settings.OPENESP_MAILJET_API_KEY = "mj-key"
    settings.OPENESP_MAILJET_SECRET_KEY = "mj-secret"
    settings.OPENESP_DEFAULT_PROVIDER = "mailjet"


def _smtp(**owner) -> EspConfig:
    return EspConfig.objects.create(
        kind="smtp",
        host="smtp.example.com",
        port=587,
        security="starttls",
        from_email="a@example.com",
        **owner,
    )


# (personal set?, org set?, org enforced?) -> expected owner
CASES = {
    (False, False, False): "operator",
    (True, False, False): "user",
    (False, True, False): "organization",
    (True, True, False): "user",
    (False, True, True): "organization",
    (True, True, True): "organization",
}


@pytest.mark.parametrize(("personal", "org_set", "enforced"), list(CASES))
def test_it_applies_precedence(alice, org, personal, org_set, enforced):
    if personal:
        _smtp(user=alice)
    if org_set:
        EspConfig.objects.create(kind="sendgrid", organization=org, enforced=enforced)
    result = effective_provider(alice, org)
    expected = CASES[(personal, org_set, enforced)]
    assert result.owner == expected
    if expected == "user":
        assert (result.kind, result.reason) == ("smtp", "your personal setting")
    elif expected == "organization":
        assert result.kind == "sendgrid"
        assert ("enforced by organization Acme" in result.reason) == enforced
    else:
        assert (result.kind, result.config) == ("mailjet", None)
        assert result.reason == "the server's default provider"


def test_it_ignores_other_users_and_organizations(alice, bob, org, charlie_org):
    _smtp(user=bob)
    EspConfig.objects.create(kind="sendgrid", organization=charlie_org, enforced=True)
    assert effective_provider(alice, org).owner == "operator"


def test_it_uses_personal_setting_without_organization(alice):
    _smtp(user=alice)
    assert effective_provider(alice).owner == "user"


@pytest.mark.parametrize(("level", "enforced"), list(itertools.product(["user", "organization"], [False, True])))
def test_it_passes_over_a_standard_provider_the_operator_removed(settings, alice, org, level, enforced):
    settings.OPENESP_SENDGRID_API_KEY = ""
    if level == "user":
        EspConfig.objects.create(kind="sendgrid", user=alice)
    else:
        EspConfig.objects.create(kind="sendgrid", organization=org, enforced=enforced)
    result = effective_provider(alice, org)
    assert result.owner == "operator"
    assert "SendGrid is not available on this server" in result.reason


def test_it_says_when_nothing_is_configured(settings, alice):
    settings.OPENESP_SENDGRID_API_KEY = settings.OPENESP_MAILJET_API_KEY = ""
    settings.OPENESP_DEFAULT_PROVIDER = ""
    result = effective_provider(alice)
    assert (result.kind, result.owner) == ("none", "operator")

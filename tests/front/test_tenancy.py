"""Charlie, an outsider, gets 404 on every page that names another tenant's object.

Areas keep their rows in ``tests/front/tenancy_areas/<area>.py``: a ``TABLE`` like the one here
and ``make(alice, org, workspace)`` returning the ids its URLs take (Acme's objects).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, reverse

from openesp.accounts import actions
from openesp.accounts.models import Membership, Organization, User, Workspace
from openesp.front import urls as front_urls
from openesp.messaging.models import Message
from tests import worlds
from tests.front.tenancy_areas import AREAS

pytestmark = pytest.mark.django_db

# URL name -> the ids it takes (from the objects of alice's organization) and its methods.
# POST-only views answer GET with 405 to anybody, before any lookup: that names nothing
# (and GET-only views POST alike).
BOTH = ("get", "post")
POST = ("post",)
GET = ("get",)
TABLE = {
    "org-detail": (["org"], BOTH),
    "org-delete": (["org"], POST),
    "org-workspaces": (["org"], BOTH),
    "org-workspace": (["org", "ws"], BOTH),
    "org-workspace-delete": (["org", "ws"], POST),
    "org-members": (["org"], BOTH),
    "org-member-change": (["org", "member"], POST),
    "org-member-remove": (["org", "member"], POST),
    "org-invitations": (["org"], BOTH),
    "org-invitation-revoke": (["org", "invitation"], POST),
    "org-settings": (["org"], BOTH),
    "org-email-choose": (["org"], BOTH),
    "org-email-custom": (["org"], BOTH),
    "org-email-test": (["org"], POST),
    "org-email-enforce": (["org"], POST),
    "org-email-remove": (["org"], POST),
    "org-email-fallback": (["org"], POST),
    "org-email-bounce-mailbox": (["org"], BOTH),
    "ws-messages": (["ws"], GET),
    "ws-message": (["ws", "message"], GET),
}
for _area in AREAS:
    TABLE.update(_area.TABLE)
CASES = [(name, method) for name, (_keys, methods) in sorted(TABLE.items()) for method in methods]


def _patterns_with_ids() -> set[str]:
    return {
        p.name for p in front_urls.urlpatterns if isinstance(p, URLPattern) and p.name and "<int:" in str(p.pattern)
    }


def test_the_table_covers_every_url_that_takes_an_id():
    assert _patterns_with_ids() == set(TABLE)


def _objects(alice: User, bob: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    invitation, _token = actions.invite(alice, org.pk, "dana@example.org")
    extra: dict[str, Any] = {}
    for area in AREAS:
        extra.update(area.make(alice, org, workspace))
    return {
        **extra,
        "org": org.pk,
        "ws": workspace.pk,
        "member": Membership.objects.get(organization=org, user=bob).pk,
        "invitation": invitation.pk,
        "message": Message.objects.create(
            organization=org, workspace=workspace, from_email="a@acme.example", to_email="b@example.org", subject="Hi"
        ).public_id,
    }


@dataclass(frozen=True)
class _World:
    alice: User
    charlie: User  # with an organization of his own
    org: Organization
    objects: dict[str, Any]


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[_World]:
    """Acme, its objects and charlie, made once for the module's hundreds of tests: each runs in
    a savepoint of its own (``tests/worlds.py``)."""
    with worlds.module_transaction(django_db_blocker):
        alice, bob, charlie = worlds.make_alice(), worlds.make_bob(), worlds.make_charlie()
        worlds.make_charlie_org(charlie)
        org = worlds.make_org(alice, bob)
        yield _World(alice, charlie, org, _objects(alice, bob, org, worlds.make_workspace(org, bob)))


# The world's people and Acme, under the names the clients of tests/front/conftest.py ask for.
@pytest.fixture
def alice(world: _World) -> User:
    return world.alice


@pytest.fixture
def charlie(world: _World) -> User:
    return world.charlie


@pytest.fixture
def org(world: _World) -> Organization:
    return world.org


@pytest.fixture
def objects(world: _World) -> dict[str, Any]:
    return world.objects


@pytest.mark.parametrize(("name", "method"), CASES)
def test_charlie_gets_404(as_charlie, objects, name, method):
    url = reverse(name, args=[objects[key] for key in TABLE[name][0]])
    response = getattr(as_charlie, method)(url, {"name": "x", "kind": "sendgrid", "enforced": "on"})
    assert response.status_code == 404
    assert "Acme" not in response.content.decode()


@pytest.mark.parametrize(("name", "method"), CASES)
def test_missing_ids_are_404_too(as_alice, objects, name, method):
    url = reverse(name, args=[999999 for _key in TABLE[name][0]])
    assert getattr(as_alice, method)(url).status_code == 404


def test_nothing_changed_after_charlie(as_charlie, objects, org):
    for name, (keys, _methods) in TABLE.items():
        as_charlie.post(reverse(name, args=[objects[key] for key in keys]), {"name": "pwned", "enforced": "on"})
    org.refresh_from_db()
    assert org.name == "Acme"
    assert Membership.objects.filter(organization=org).count() == 2

"""The suite's people and Acme, made by plain functions, and a module-wide transaction.

``tests/conftest.py`` makes them per test (the ``alice``, ``bob``, ``org``… fixtures). A module
whose many tests only read a large set of rows — the tenancy tables, where an outsider tries
every route and must change nothing — makes them once, inside ``module_transaction``: each test
then runs in a savepoint within it (pytest-django's ``django_db``), rolled back after the test,
and the whole is rolled back after the module's last test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from openesp.accounts.models import Membership, Organization, Role, User, Workspace

PASSWORD = "correct horse battery staple"


def make_user(email: str, name: str) -> User:
    return User.objects.create_user(email, PASSWORD, name=name, email_verified=True)


def make_alice() -> User:
    return make_user("alice@example.org", "Alice")


def make_bob() -> User:
    return make_user("bob@example.org", "Bob")


def make_charlie() -> User:
    return make_user("charlie@example.net", "Charlie")


def make_org(alice: User, bob: User) -> Organization:
    """Acme: alice owns it, bob is a member with access to its workspace."""
    organization = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=organization, user=alice, role=Role.OWNER)
    Membership.objects.create(organization=organization, user=bob, role=Role.MEMBER)
    return organization


def make_workspace(org: Organization, bob: User) -> Workspace:
    ws = Workspace.objects.create(organization=org, name="Marketing")
    Membership.objects.get(organization=org, user=bob).workspaces.add(ws)
    return ws


def make_charlie_org(charlie: User) -> Organization:
    organization = Organization.objects.create(name="Charlie Corp")
    Membership.objects.create(organization=organization, user=charlie, role=Role.OWNER)
    return organization


@contextlib.contextmanager
def module_transaction(django_db_blocker: Any) -> Iterator[None]:
    """Rows made in here last until the ``with`` ends, then are rolled back.

    For a module-scoped fixture (``django_db_blocker`` is pytest-django's): the tests that run
    meanwhile each get a savepoint inside this transaction, so what one test changes the next
    does not see. Nested, it is a savepoint itself (a parametrized fixture's rows, per value).
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)

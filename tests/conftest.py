"""Fixtures shared by the whole suite: alice (owner), bob (member), charlie (outsider)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openesp.accounts.models import Membership, Organization, Role, User, Workspace

pytest_plugins = ["tests.servers.fixtures", "tests.processes"]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice@example.org", PASSWORD, name="Alice", email_verified=True)


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob@example.org", PASSWORD, name="Bob", email_verified=True)


@pytest.fixture
def charlie(db) -> User:
    return User.objects.create_user("charlie@example.net", PASSWORD, name="Charlie", email_verified=True)


@pytest.fixture
def org(alice: User, bob: User) -> Organization:
    """Acme: alice owns it, bob is a member with access to its workspace."""
    organization = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=organization, user=alice, role=Role.OWNER)
    Membership.objects.create(organization=organization, user=bob, role=Role.MEMBER)
    return organization


@pytest.fixture
def workspace(org: Organization, bob: User) -> Workspace:
    ws = Workspace.objects.create(organization=org, name="Marketing")
    Membership.objects.get(organization=org, user=bob).workspaces.add(ws)
    return ws


@pytest.fixture
def charlie_org(charlie: User) -> Organization:
    organization = Organization.objects.create(name="Charlie Corp")
    Membership.objects.create(organization=organization, user=charlie, role=Role.OWNER)
    return organization


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in the default language: a page test that activates Swedish (the test
    client's request does, for the rest of the thread) must not change the next test's messages."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Path:
    """A data directory the migrations have run in, made once a session: a copy of it starts
    ``openesp serve`` (or another command) without its ten seconds of migrating on the
    project's machine, which each fresh data directory paid."""
    from tests.processes import HANG, REPO, clean_env

    data_dir = tmp_path_factory.mktemp("migrated") / "var"
    subprocess.run(
        [sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"],
        cwd=REPO, env=clean_env(data_dir), timeout=HANG, check=True,
    )  # fmt: skip
    return data_dir

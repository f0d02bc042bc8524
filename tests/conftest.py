"""Fixtures shared by the whole suite: alice (owner), bob (member), charlie (outsider)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openesp.accounts.models import Organization, User, Workspace
from tests import worlds

pytest_plugins = ["tests.servers.fixtures", "tests.processes"]

PASSWORD = worlds.PASSWORD

# The fixtures through which a test reaches the run's database (pytest-django's).
_DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)


def _uses_the_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


def _on_postgresql() -> bool:
    from django.conf import settings

    return bool(settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out the tests that use no database of the run.

    The suite runs twice, on SQLite and on PostgreSQL (``scripts/test``). A test that cannot
    reach the run's database — pure code, or ``openesp serve`` on a data directory of its own
    with the embedded SQLite — does the same thing in both runs; the SQLite run has it. A test
    that hands the run's database to a process it starts gets it from ``run_database_url``,
    which only a test allowed the database may call.
    """
    if not _on_postgresql():
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (kept if _uses_the_database(item) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str | None:
    if _on_postgresql():
        return "PostgreSQL run: the tests that use no database are left to the SQLite run (deselected here)"
    return None


@pytest.fixture
def alice(db) -> User:
    return worlds.make_alice()


@pytest.fixture
def bob(db) -> User:
    return worlds.make_bob()


@pytest.fixture
def charlie(db) -> User:
    return worlds.make_charlie()


@pytest.fixture
def org(alice: User, bob: User) -> Organization:
    """Acme: alice owns it, bob is a member with access to its workspace."""
    return worlds.make_org(alice, bob)


@pytest.fixture
def workspace(org: Organization, bob: User) -> Workspace:
    return worlds.make_workspace(org, bob)


@pytest.fixture
def charlie_org(charlie: User) -> Organization:
    return worlds.make_charlie_org(charlie)


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

"""What the PostgreSQL run leaves to the SQLite run (``tests/conftest.py``): the tests that use
no database, told by pytest-django's mark and fixtures — and no test slips through by handing
the run's database to a process without saying it uses it."""

from __future__ import annotations

import pytest

from tests.conftest import _uses_the_database
from tests.processes import run_database_url


def test_a_test_without_the_database_is_told_apart(request):
    assert not _uses_the_database(request.node)


@pytest.mark.django_db
def test_the_mark_counts_as_using_it(request):
    assert _uses_the_database(request.node)


def test_the_fixture_counts_as_using_it(request, transactional_db):
    assert _uses_the_database(request.node)


def test_a_test_without_the_database_cannot_hand_it_to_a_process():
    with pytest.raises(RuntimeError, match="Database access not allowed"):
        run_database_url()


@pytest.mark.django_db
def test_a_test_with_it_names_the_run_s_database(settings):
    assert run_database_url().endswith(str(settings.DATABASES["default"]["NAME"]))

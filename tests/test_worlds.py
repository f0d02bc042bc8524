"""``tests/worlds.module_transaction``: rows made once for a module, each test's own rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openesp.accounts.models import Organization, User
from tests.worlds import make_alice, make_charlie, module_transaction

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def shared(django_db_setup: None, django_db_blocker: Any) -> Iterator[User]:
    with module_transaction(django_db_blocker):
        yield make_alice()
    with django_db_blocker.unblock():  # after the module: its rows are gone (an error here otherwise)
        assert not User.objects.exists() and not Organization.objects.exists()


@pytest.fixture(scope="module", params=["first", "second"])
def per_value(request: pytest.FixtureRequest, shared: User, django_db_blocker: Any) -> Iterator[str]:
    with module_transaction(django_db_blocker):
        Organization.objects.create(name=request.param)
        yield request.param


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_sees_the_module_s_rows_and_none_of_another_test_s(shared, per_value, turn):
    assert list(User.objects.values_list("email", flat=True)) == [shared.email]
    assert list(Organization.objects.values_list("name", flat=True)) == [per_value]
    make_charlie()
    Organization.objects.create(name=f"made by turn {turn}")


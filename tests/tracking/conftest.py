"""The API tests' worker and relay fixtures, and fresh tracking defaults for each test."""

import pytest

from openesp.tracking.choice import forget_defaults
from tests.api.conftest import relay, worker

__all__ = ["relay", "worker"]


@pytest.fixture(autouse=True)
def _fresh_defaults():
    """The worker caches workspace defaults; a rolled-back workspace's id may come back."""
    forget_defaults()
    yield
    forget_defaults()

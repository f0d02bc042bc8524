"""The API tests' worker and relay fixtures, shared here."""

from tests.api.conftest import relay, worker

__all__ = ["relay", "worker"]

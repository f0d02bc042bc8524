"""The campaign fixtures (a template, a list of five contacts, a draft campaign), the worker and
the operator's relay on loopback (the API tests' own), for the statistics tests."""

from tests.api.conftest import relay, worker
from tests.campaigns.conftest import campaign, members, version

__all__ = ["campaign", "members", "relay", "version", "worker"]

"""Schemathesis over ``/api/openapi.json``: no 500s, and every answer as the schema states it.

Each operation of the OpenAPI schema is one test: Hypothesis draws requests from the schema
(valid ones and deliberately invalid ones), with a fixed seed so that a run is reproducible, and
each answer is checked for

- ``not_a_server_error``: nothing a client sends is a 500;
- ``status_code_conformance``: the status is one the operation documents;
- ``response_schema_conformance``: the body matches the schema documented for that status.

Requests go to the Django WSGI application in-process, inside the test's transaction, with a
personal API key of alice (owner of an organization with one workspace). Parameters named
``workspace`` are set to that workspace when the draw left them out, so that routes which need
one get past it.

The suite runs twice, on SQLite and on PostgreSQL, and each run draws with a seed of its own:
together they send twice as many different requests as one would, where the same seed twice
repeated every draw. (Schemathesis' coverage phase — boundaries, wrong types, missing fields —
is the same in both: it does not depend on the seed.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from openesp.accounts.apikeys import create_api_key

pytestmark = pytest.mark.django_db

# Draws per operation and run, besides the coverage phase's own cases (decision 029).
MAX_EXAMPLES = 30
SEED = 1 if connection.vendor == "postgresql" else 0

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler())


@pytest.fixture
def same_connection():
    """Keep the test's database connection across requests, as Django's test client does.

    The WSGI handler closes a connection at the start and end of each request when it is not in
    autocommit, which inside the test's transaction would throw the transaction away.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(alice, same_connection) -> dict[str, str]:
    _key, raw = create_api_key(alice)
    return {"Authorization": f"Bearer {raw}"}


def _with_workspace(case: Any, workspace_id: int) -> None:
    operation = case.operation
    if any(p.name == "workspace" for p in operation.query):
        if case.query is None:
            case.query = {}
        if case.query.get("workspace") is None:
            case.query["workspace"] = workspace_id
    if isinstance(case.body, dict) and "workspace" in case.body and case.body["workspace"] is None:
        case.body["workspace"] = workspace_id


@schema.parametrize()
@seed(SEED)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case, bearer, workspace):
    _with_workspace(case, workspace.pk)
    case.call_and_validate(
        headers=bearer,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )

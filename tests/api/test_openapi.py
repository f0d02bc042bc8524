from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

CONTRACT = [
    ("get", "/api/v1/me"),
    ("get", "/api/v1/esp/personal"),
    ("put", "/api/v1/esp/personal"),
    ("get", "/api/v1/organizations/{organization_id}/esp"),
    ("put", "/api/v1/organizations/{organization_id}/esp"),
    ("get", "/api/v1/esp/effective"),
    ("post", "/api/v1/esp/test"),
    ("get", "/api/v1/esp/egress-ips"),
    ("post", "/api/v1/organizations"),
    ("post", "/api/v1/organizations/{organization_id}/workspaces"),
]


def test_it_lists_the_routes():
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    for method, path in CONTRACT:
        assert method in schema["paths"][path], (method, path)
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    put = schema["paths"]["/api/v1/esp/personal"]["put"]
    assert "422" in put["responses"]


def test_it_serves_the_docs():
    assert Client().get("/api/docs").status_code == 200


def test_every_schema_has_its_own_name():
    # Two classes of one name share one component, and one route's answer is then checked
    # against the other's schema (messages' and providers' ProviderOut did so).
    from ninja import Schema

    import openesp.api.main  # noqa: F401  (loads every router)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    names: dict[str, str] = {}
    for cls in subclasses(Schema):
        if not cls.__module__.startswith("openesp.api."):
            continue
        where = f"{cls.__module__}.{cls.__qualname__}"
        assert names.setdefault(cls.__name__, where) == where, f"{where} and {names[cls.__name__]}"


def test_routes_that_read_a_body_state_the_answers_to_an_unreadable_one():
    schema = Client().get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= statuses, (method, path)

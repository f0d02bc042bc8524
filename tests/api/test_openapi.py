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

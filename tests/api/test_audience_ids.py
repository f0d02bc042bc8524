"""Ids past what the database holds are a 422 naming the parameter on every audience route
(contacts, lists, suppressions, categories, imports, segments), never a 500, and the OpenAPI
schema states the bound."""

from __future__ import annotations

import pytest

from openesp.api.main import api
from openesp.api.params import MAX_ID

pytestmark = pytest.mark.django_db

HUGE = 2**64
AUDIENCE = (
    "/contacts",
    "/lists",
    "/suppressions",
    "/categories",
    "/imports",
    "/segments",
    "/workspaces/{workspace_id}/contacts",
)

ROUTES = [
    ("GET", f"/api/v1/contacts/{HUGE}", None),
    ("PATCH", f"/api/v1/contacts/{HUGE}", {"name": "x"}),
    ("DELETE", f"/api/v1/contacts/{HUGE}", None),
    ("GET", f"/api/v1/contacts/{HUGE}/export", None),
    ("GET", f"/api/v1/contacts/{HUGE}/categories", None),
    ("GET", f"/api/v1/contacts/{HUGE}/preferences-link", None),
    ("GET", f"/api/v1/workspaces/{HUGE}/contacts/export", None),
    ("GET", f"/api/v1/contacts?workspace={HUGE}", None),
    ("GET", f"/api/v1/contacts?workspace=1&list={HUGE}", None),
    ("GET", f"/api/v1/contacts?workspace=1&segment={HUGE}", None),
    ("POST", "/api/v1/contacts", {"email": "a@example.com", "lists": [HUGE], "workspace": 1}),
    ("POST", "/api/v1/contacts", {"email": "a@example.com", "workspace": HUGE}),
    ("GET", f"/api/v1/lists/{HUGE}", None),
    ("GET", f"/api/v1/lists?workspace={HUGE}", None),
    ("POST", f"/api/v1/lists/{HUGE}/subscribers", {"email": "a@example.com"}),
    ("POST", "/api/v1/lists/1/subscribers", {"contact_id": HUGE}),
    ("DELETE", f"/api/v1/lists/1/subscribers/{HUGE}", None),
    ("POST", f"/api/v1/lists/1/subscribers/{HUGE}/confirmation", None),
    ("GET", f"/api/v1/suppressions?workspace={HUGE}", None),
    ("GET", f"/api/v1/categories/{HUGE}", None),
    ("PUT", "/api/v1/contacts/1/categories", {"categories": [HUGE]}),
    ("GET", f"/api/v1/imports/{HUGE}", None),
    ("POST", f"/api/v1/imports/{HUGE}/cancel", None),
    ("GET", f"/api/v1/segments/{HUGE}", None),
    ("GET", f"/api/v1/segments/{HUGE}/contacts", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_it_answers_422_for_an_id_too_large(alice_api, method, path, body):
    response = alice_api.call(method, path, body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "invalid"


def test_it_states_the_bound_in_the_schema():
    schema = api.get_openapi_schema(path_prefix="/api/")
    unbounded = []
    for path, operations in schema["paths"].items():
        if not path.removeprefix("/api/v1").startswith(AUDIENCE):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                options = parameter["schema"].get("anyOf", [parameter["schema"]])
                for option in options:
                    if (
                        option.get("type") == "integer"
                        and parameter["name"] != "limit"
                        and option.get("maximum") != MAX_ID
                    ):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert not unbounded

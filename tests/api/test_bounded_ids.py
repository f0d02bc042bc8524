"""An id past what the database holds is a 422 naming the parameter, never a 500.

Without a bound the id reached the database driver, which raised ``OverflowError`` (SQLite) or
``NumericValueOutOfRange`` (PostgreSQL): a 500.
"""

from __future__ import annotations

import pytest

from openesp.api.params import MAX_ID

pytestmark = pytest.mark.django_db

HUGE = 2**64  # the first id no BIGINT holds is MAX_ID + 1; this one is well past it


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/v1/organizations/{id}", "organization_id"),
        ("PATCH", "/api/v1/organizations/{id}", "organization_id"),
        ("DELETE", "/api/v1/organizations/{id}", "organization_id"),
        ("GET", "/api/v1/organizations/{id}/workspaces", "organization_id"),
        ("POST", "/api/v1/organizations/{id}/workspaces", "organization_id"),
        ("GET", "/api/v1/organizations/{id}/members", "organization_id"),
        ("PATCH", "/api/v1/organizations/1/members/{id}", "membership_id"),
        ("DELETE", "/api/v1/organizations/1/members/{id}", "membership_id"),
        ("GET", "/api/v1/organizations/{id}/invitations", "organization_id"),
        ("POST", "/api/v1/organizations/{id}/invitations", "organization_id"),
        ("DELETE", "/api/v1/invitations/{id}", "invitation_id"),
        ("GET", "/api/v1/workspaces/{id}", "workspace_id"),
        ("PATCH", "/api/v1/workspaces/{id}", "workspace_id"),
        ("DELETE", "/api/v1/workspaces/{id}", "workspace_id"),
        ("GET", "/api/v1/organizations/{id}/esp", "organization_id"),
        ("PUT", "/api/v1/organizations/{id}/esp", "organization_id"),
        ("DELETE", "/api/v1/organizations/{id}/esp", "organization_id"),
        ("GET", "/api/v1/workspaces/{id}/domains", "workspace_id"),
        ("POST", "/api/v1/workspaces/{id}/domains", "workspace_id"),
        ("DELETE", "/api/v1/domains/{id}", "domain_id"),
        ("POST", "/api/v1/domains/{id}/verify", "domain_id"),
        ("DELETE", "/api/v1/api-keys/{id}", "key_id"),
    ],
)
def test_it_refuses_a_huge_id_in_the_path(alice_api, org, method, path, field):
    # An empty body may add its own problems (required fields); the id is among them.
    response = alice_api.call(method, path.format(id=HUGE), {})
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("too_big", [MAX_ID + 1, HUGE, 10**30])
def test_it_refuses_a_huge_organization_in_the_query(alice_api, too_big):
    response = alice_api.get("/api/v1/esp/effective", organization=too_big)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "organization"


def test_it_still_answers_404_for_the_largest_id(alice_api):
    response = alice_api.get(f"/api/v1/organizations/{MAX_ID}/workspaces")
    assert response.status_code == 404


def test_it_refuses_zero(alice_api):
    response = alice_api.get("/api/v1/workspaces/0")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspace_id"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/messages",
            {"from": "a@example.org", "to": ["b@example.org"], "subject": "s", "text": "t", "workspace": HUGE},
            "workspace",
        ),
        ("/api/v1/api-keys", {"workspace": HUGE}, "workspace"),
        ("/api/v1/esp/test", {"config_id": HUGE}, "config_id"),
        ("/api/v1/esp/test", {"kind": "smtp", "organization": HUGE}, "organization"),
    ],
)
def test_it_refuses_a_huge_id_in_a_body(alice_api, path, body, field):
    response = alice_api.post(path, body)
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_it_refuses_huge_ids_in_a_membership_patch(alice_api, org, bob):
    membership = org.memberships.get(user=bob)
    response = alice_api.patch(f"/api/v1/organizations/{org.pk}/members/{membership.pk}", {"workspaces": [HUGE]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspaces.0"


def test_it_refuses_a_huge_invitation_workspace(alice_api, org):
    response = alice_api.post(
        f"/api/v1/organizations/{org.pk}/invitations", {"email": "dave@example.org", "workspace": HUGE}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspace"


@pytest.mark.parametrize("query", [{"workspace": HUGE}, {"cursor": str(HUGE)}])
def test_it_refuses_huge_numbers_when_listing_messages(alice_api, query):
    response = alice_api.get("/api/v1/messages", **query)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == next(iter(query))


def test_the_schema_states_the_bound():
    from django.test import Client

    schema = Client().get("/api/openapi.json").json()
    parameters = schema["paths"]["/api/v1/organizations/{organization_id}/workspaces"]["get"]["parameters"]
    (organization_id,) = [p for p in parameters if p["name"] == "organization_id"]
    assert organization_id["schema"]["maximum"] == MAX_ID
    assert organization_id["schema"]["minimum"] == 1


# TEMPORARY, as in test_schemathesis.py: these routes get their bounds on the access branch.
def _integers(schema, node, where):
    """(where, schema) of every integer in a parameter or request-body schema, following $refs."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            yield from _integers(schema, schema["components"]["schemas"][name], where)
            return
        if node.get("type") == "integer":
            yield where, node
        for key in ("properties",):
            for name, sub in node.get(key, {}).items():
                yield from _integers(schema, sub, f"{where}.{name}")
        # A bound beside an anyOf (``int | None``) applies to the integer within it.
        bound = {k: node[k] for k in ("maximum",) if k in node}
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                yield from _integers(schema, {**sub, **bound}, where)
        if "items" in node:
            yield from _integers(schema, node["items"], f"{where}[]")


def test_every_integer_a_route_takes_has_a_bound():
    # Random draws rarely reach past 2**63, so this states the rule for every route at once:
    # an integer without a maximum would reach the database driver unchecked.
    from django.test import Client

    schema = Client().get("/api/openapi.json").json()
    unbounded = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for where, node in _integers(schema, parameter["schema"], parameter["name"]):
                    if "maximum" not in node:
                        unbounded.append(f"{method.upper()} {path} {where}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for where, node in _integers(schema, content["schema"], "body"):
                    if "maximum" not in node:
                        unbounded.append(f"{method.upper()} {path} {where}")
    assert unbounded == []

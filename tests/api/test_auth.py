"""Bearer keys, scopes, workspace confinement, and the one error shape."""

from __future__ import annotations

import pytest

from openesp.accounts.apikeys import create_api_key, revoke_api_key
from openesp.accounts.models import Organization
from openesp.esp.models import EspConfig
from tests.api.conftest import Api, api_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def _assert_unauthorized(response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unauthorized"
    assert body["detail"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_needs_a_key(alice):
    _assert_unauthorized(Api(None).get(ME))


@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer oe_abcdefgh_" + "x" * 43, "Basic YWxpY2U6cGFzcw==", "Bearer", "oe_token"],
)
def test_it_refuses_a_bad_key(alice, header):
    from django.test import Client

    _assert_unauthorized(Client().get(ME, HTTP_AUTHORIZATION=header))


def test_it_refuses_a_revoked_key(alice):
    row, key = create_api_key(alice)
    assert Api(key).get(ME).status_code == 200
    revoke_api_key(alice, row.pk)
    _assert_unauthorized(Api(key).get(ME))


def test_it_refuses_the_prefix_or_the_stored_hash_as_a_key(alice):
    row, _key = create_api_key(alice)
    _assert_unauthorized(Api(row.prefix).get(ME))
    _assert_unauthorized(Api(f"oe_{row.prefix}_{row.key_hash}").get(ME))
    _assert_unauthorized(Api(row.key_hash).get(ME))


def test_it_checks_the_key_before_the_body(alice):
    _assert_unauthorized(Api(None).put("/api/v1/esp/personal", raw="{not json"))


def test_it_enforces_scopes(alice, org):
    api = api_for(alice, scopes=["esp"])
    assert api.get("/api/v1/esp/effective").status_code == 200
    response = api.get("/api/v1/organizations")
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "detail": "this API key lacks the 'organizations' scope"}
    assert api.get("/api/v1/api-keys").status_code == 403
    org_only = api_for(alice, scopes=["organizations"])
    assert org_only.get("/api/v1/organizations").status_code == 200
    assert org_only.put("/api/v1/esp/personal", {"kind": "smtp"}).status_code == 403
    assert org_only.get(f"/api/v1/organizations/{org.pk}/esp").status_code == 403


def test_it_lets_any_key_ask_who_it_is(alice):
    assert api_for(alice, scopes=["messages.read"]).get(ME).status_code == 200


def test_it_reports_malformed_json_as_400_on_the_body(alice_api):
    response = alice_api.put("/api/v1/esp/personal", raw="{not json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["errors"] == [{"field": "body", "reason": "is not valid JSON"}]


def test_it_reports_schema_errors_as_422_with_the_field(alice_api):
    response = alice_api.put("/api/v1/esp/personal", {"kind": "smtp", "port": "many", "security": "ssl"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid"
    assert {e["field"] for e in body["errors"]} == {"port", "security"}
    assert all(e["reason"] for e in body["errors"])


def test_it_reports_a_missing_body_as_422(alice_api):
    response = alice_api.put("/api/v1/esp/personal")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_it_reports_a_bad_path_id_as_422(alice_api):
    response = alice_api.get("/api/v1/organizations/abc")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "organization_id"


def test_it_answers_404_in_the_error_shape(alice_api):
    response = alice_api.get("/api/v1/organizations/999999")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "organization not found"}


class TestWorkspaceKeys:
    """A workspace key acts as its user, but only inside its workspace's organization."""

    @pytest.fixture
    def other_org(self, alice) -> Organization:
        from openesp.accounts.actions import create_organization

        return create_organization(alice, "Globex")

    @pytest.fixture
    def ws_api(self, alice, workspace) -> Api:
        return api_for(alice, workspace=workspace)

    def test_it_sees_only_its_organization(self, ws_api, org, other_org):
        assert [o["id"] for o in ws_api.get("/api/v1/organizations").json()] == [org.pk]
        assert [o["id"] for o in ws_api.get(ME).json()["organizations"]] == [org.pk]
        assert ws_api.get(f"/api/v1/organizations/{org.pk}").status_code == 200
        assert ws_api.get(f"/api/v1/organizations/{other_org.pk}").status_code == 404
        assert ws_api.get(f"/api/v1/organizations/{other_org.pk}/esp").status_code == 404
        assert ws_api.get("/api/v1/esp/effective", organization=other_org.pk).status_code == 404

    def test_it_answers_effective_for_its_organization(self, ws_api, org):
        EspConfig.objects.create(
            organization=org,
            kind="smtp",
            host="smtp.acme.example",
            port=587,
            security="starttls",
            from_email="a@acme.example",
            enforced=True,
        )
        body = ws_api.get("/api/v1/esp/effective").json()
        assert (body["owner"], body["organization_id"]) == ("organization", org.pk)

    def test_it_cannot_touch_personal_settings_or_keys(self, ws_api):
        assert ws_api.get("/api/v1/esp/personal").status_code == 403
        assert ws_api.put("/api/v1/esp/personal", {"kind": "smtp"}).status_code == 403
        assert ws_api.get("/api/v1/api-keys").status_code == 403
        assert ws_api.post("/api/v1/api-keys", {}).status_code == 403
        assert ws_api.post("/api/v1/organizations", {"name": "Escape"}).status_code == 403
        assert ws_api.post("/api/v1/invitations/accept", {"token": "x"}).status_code == 403


def test_it_needs_no_csrf_token_with_a_bearer_key(alice):
    from django.test import Client

    _row, key = create_api_key(alice)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/organizations",
        '{"name": "Scripted"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201


def test_it_answers_an_unknown_route_in_the_error_shape(alice_api):
    response = alice_api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no such API route"}
    assert Api(None).post("/api/v2/whatever", {}).json()["error"] == "not_found"

"""A method a route does not take answers 405 in the API's error shape, with ``Allow``."""

from __future__ import annotations

import pytest

from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db


def test_a_wrong_method_is_405_in_the_error_shape(alice):
    response = api_for(alice).call("PUT", "/api/v1/contacts", {})
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "method_not_allowed"
    assert body["detail"].startswith("PUT is not allowed here; allowed: ")
    # Ninja lists a path's methods in the order its routes were declared.
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]
    assert body["detail"].endswith(response["Allow"])


def test_web_pages_keep_their_own_405(client):
    response = client.get("/logout/")
    assert response.status_code == 405
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/api/v1/contacts", "/api/v1/messages"])
def test_a_cursor_of_non_ascii_digits_is_refused_not_a_crash(alice, workspace, path):
    # "²".isdigit() is true, and int("²") raises: only ASCII digits are a cursor.
    response = api_for(alice, workspace=workspace).get(path, cursor="²")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "cursor", "reason": "is not a cursor this API gave out"}]

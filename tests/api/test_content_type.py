"""A body the API cannot read is a 400 or a 415 in the API's error shape, never a 500.

Found by schemathesis: ``multipart/form-data`` without a boundary on the CSV upload reached
Django's multipart parser, whose ``MultiPartParserError`` was a 500.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from openesp.audience.actions import create_list

pytestmark = pytest.mark.django_db

NAME = json.dumps({"name": "Initech"}).encode()


@pytest.fixture
def post(alice):
    from openesp.accounts.apikeys import create_api_key

    _key, raw = create_api_key(alice)
    client = Client()

    def post(path: str, body: bytes, content_type: str) -> object:
        return client.generic("POST", path, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {raw}")

    return post


@pytest.fixture
def imports_path(workspace):
    return f"/api/v1/lists/{create_list(workspace, 'News').pk}/imports"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; charset=utf-8"],
)
def test_a_multipart_body_without_a_usable_boundary_is_a_400(post, imports_path, content_type):
    response = post(imports_path, b"--x\r\n\r\n", content_type)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["errors"][0]["field"] == "body"
    assert "multipart" in body["detail"]


@pytest.mark.parametrize("content_type", ["garbage", "a/b/c", "application/", "/json", "tëxt/plain"])
def test_a_content_type_that_is_no_media_type_is_a_400(post, content_type):
    response = post("/api/v1/organizations", NAME, content_type)
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "Content-Type"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"name=Initech", "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nInitech\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
        (NAME, "text/plain"),
        (NAME, "application/xml"),
    ],
)
def test_a_json_route_refuses_other_media_types_with_a_415(post, body, content_type):
    response = post("/api/v1/organizations", body, content_type)
    assert response.status_code == 415, response.content
    body = response.json()
    assert body["error"] == "unsupported_media_type"
    assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/vnd.x+json", ""]
)
def test_a_json_route_reads_json_and_a_body_without_a_type(post, content_type):
    assert post("/api/v1/organizations", NAME, content_type).status_code == 201


@pytest.mark.parametrize("body", [b"[1, 2]", b'"Initech"', b"7"])
def test_a_json_body_that_is_not_an_object_is_a_422(post, body):
    response = post("/api/v1/organizations", body, "application/json")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "reason": "must be a JSON object"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "Init\\u0000ech"}', "name"),
        (b'{"name": "x", "\\u0000": [1]}', "\x00"),
        (b'{"name": "x", "tags": {"a": ["ok", "n\\u0000"]}}', "tags.a[1]"),
        # json.loads reads UTF-16 and UTF-32 too, where the escape's bytes are not b"\u0000"
        ('{"name": "Init\\u0000ech"}'.encode("utf-16"), "name"),
        ('{"name": "Init\\u0000ech"}'.encode("utf-32-le"), "name"),
    ],
)
def test_a_nul_character_anywhere_in_a_json_body_is_a_400_naming_the_field(post, body, field):
    # PostgreSQL's text cannot hold U+0000: it was a 500 there (found by schemathesis).
    response = post("/api/v1/organizations", body, "application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "reason": "must not contain the NUL character (U+0000)"}]


def test_a_body_that_is_not_json_is_still_a_400(post):
    response = post("/api/v1/organizations", b"{not json", "application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "body", "reason": "is not valid JSON"}]


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", ""])
def test_the_upload_route_names_the_missing_file_when_the_body_is_no_form(post, imports_path, content_type):
    response = post(imports_path, b"email\nann@example.com\n", content_type)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "file"


def test_the_upload_route_refuses_a_content_type_that_is_no_media_type(post, imports_path):
    response = post(imports_path, b"email\nann@example.com\n", "csv")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Content-Type"


def test_too_many_form_fields_is_a_400(post, imports_path, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    response = post(imports_path, b"&".join(b"f%d=1" % i for i in range(10)), "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"

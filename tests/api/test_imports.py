"""The CSV import API: upload (multipart) → 202 → the runner → status, counts and the report."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from openesp.accounts.models import Membership, Role, User
from openesp.audience import imports
from openesp.audience.actions import create_list
from openesp.audience.models import Contact, ImportJob
from tests.api.conftest import Api, api_for
from tests.audience.import_helpers import run_all

pytestmark = pytest.mark.django_db

CSV = "email;name;plan\nann@example.com;Ann;pro\nnot-an-address;X;y\nANN@example.com;Dup;z\nbo@example.com;Bo;free\n"


def upload(api: Api, list_id: int, data: bytes | str = CSV, **fields: Any) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    body: dict[str, Any] = {"file": SimpleUploadedFile("contacts.csv", raw, content_type="text/csv"), **fields}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api.key}"}
    return api.client.post(f"/api/v1/lists/{list_id}/imports", body, **headers)


@pytest.fixture
def news(workspace):
    return create_list(workspace, "News")


def _files() -> set[str]:
    return {p.name for p in imports.imports_dir().iterdir()}


def test_it_queues_an_import_and_reports_how_it_went(alice, workspace, news):
    api = api_for(alice)
    response = upload(api, news.pk, consent_text_version="v3")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["list_id"] == news.pk
    assert (body["encoding"], body["delimiter"]) == ("utf-8", ";")
    assert body["mapping"] == {"email": "email", "name": "name", "plan": "attributes.plan"}
    assert ImportJob.objects.get(pk=body["id"]).status == "queued"  # committed before the answer

    run_all()
    status = api.get(f"/api/v1/imports/{body['id']}").json()
    assert {k: status[k] for k in ("status", "created", "updated", "skipped", "progress")} == {
        "status": "done",
        "created": 2,
        "updated": 0,
        "skipped": 2,
        "progress": 1.0,
    }
    assert status["report_url"] == f"http://testserver/api/v1/imports/{body['id']}/report"
    # Streamed: read here, not through Api.get (its guard reads .content).
    report = api.client.get(f"/api/v1/imports/{body['id']}/report", HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == ["row", "reason", "raw"]
    assert [r[0] for r in rows[1:]] == ["2", "3"]
    assert rows[2][1:] == ["duplicate of row 1", "ANN@example.com;Dup;z"]
    assert Contact.objects.get(email="ann@example.com").attributes == {"plan": "pro"}


def test_an_explicit_mapping_and_mode_are_taken(alice, workspace, news):
    api = api_for(alice)
    response = upload(api, news.pk, mode="update", mapping='{"email": "email", "name": "", "plan": "attributes.tier"}')
    assert response.status_code == 202, response.content
    assert response.json()["mode"] == "update"
    assert response.json()["mapping"] == {"email": "email", "name": "", "plan": "attributes.tier"}


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"mode": "merge"}, "mode", "must be one of subscribe, update, unsubscribe"),
        ({"mapping": "{not json"}, "mapping", "is not valid JSON"),
        ({"mapping": '{"nope": "email"}'}, "mapping.nope", "is not a column of the file"),
        ({"mapping": '{"email": "name"}'}, "mapping", "one column must be mapped to email"),
        ({"consent_text_version": "v" * 65}, "consent_text_version", "must be at most 64 characters"),
    ],
)
def test_bad_fields_are_a_422_naming_them_and_nothing_is_kept(alice, workspace, news, fields, field, reason):
    before = _files()
    response = upload(api_for(alice), news.pk, **fields)
    assert response.status_code == 422
    assert {"field": field, "reason": reason} in response.json()["errors"]
    assert not ImportJob.objects.exists()
    assert _files() == before


def test_a_file_that_cannot_be_imported_is_a_422_naming_file(alice, workspace, news):
    for data, reason in [
        (b"", "is empty"),
        ("name,city\nAnn,Lund\n", "has no email column"),
        ("email\nann@example.com\n".encode("utf-16"), "is UTF-16 text"),
    ]:
        response = upload(api_for(alice), news.pk, data)
        assert response.status_code == 422, data
        problem = response.json()["errors"][0]
        assert problem["field"] == "file" and reason in problem["reason"]
    assert not ImportJob.objects.exists()


def test_no_file_is_a_422_naming_file(alice, workspace, news):
    response = api_for(alice).post(f"/api/v1/lists/{news.pk}/imports", {})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_a_file_over_the_limit_is_a_413_naming_file_and_the_limit(alice, workspace, news, settings):
    settings.OPENESP_IMPORT_MAX_BYTES = 20
    before = _files()
    response = upload(api_for(alice), news.pk)
    assert response.status_code == 413
    assert response.json()["errors"] == [
        {"field": "file", "reason": "is larger than the limit of 20 bytes (OPENESP_IMPORT_MAX_BYTES)"}
    ]
    assert not ImportJob.objects.exists() and _files() == before


def test_imports_are_listed_newest_first_and_can_be_cancelled(alice, workspace, news):
    api = api_for(alice, workspace=workspace)
    first = upload(api, news.pk).json()["id"]
    second = upload(api, news.pk).json()["id"]
    assert [j["id"] for j in api.get("/api/v1/imports").json()] == [second, first]
    cancelled = api.post(f"/api/v1/imports/{first}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run_all()
    assert api.get(f"/api/v1/imports/{second}").json()["created"] == 2
    assert api.get(f"/api/v1/imports/{first}").json()["created"] == 0
    assert api.post(f"/api/v1/imports/{second}/cancel").json()["status"] == "done"  # ended: unchanged


def test_viewers_see_imports_but_cannot_start_or_cancel_one(alice, org, workspace, news):
    dana = User.objects.create_user("dana@example.org", "correct horse battery staple", email_verified=True)
    Membership.objects.create(organization=org, user=dana, role=Role.VIEWER).workspaces.add(workspace)
    job = upload(api_for(alice), news.pk).json()["id"]
    viewer = api_for(dana)
    assert upload(viewer, news.pk).status_code == 403
    assert viewer.post(f"/api/v1/imports/{job}/cancel").status_code == 403
    assert viewer.get(f"/api/v1/imports/{job}").json()["status"] == "queued"
    assert ImportJob.objects.count() == 1


def test_charlie_cannot_upload_into_alices_list_or_see_her_imports(alice, charlie, charlie_org, workspace, news):
    job = upload(api_for(alice), news.pk).json()["id"]
    charlie_api = api_for(charlie)
    assert upload(charlie_api, news.pk).status_code == 404
    assert charlie_api.get(f"/api/v1/imports/{job}").status_code == 404
    assert charlie_api.get(f"/api/v1/imports/{job}/report").status_code == 404
    assert ImportJob.objects.count() == 1

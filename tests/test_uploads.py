"""Upload files stop at OPENESP_IMPORT_MAX_BYTES as they arrive, not after they are on disk."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from openesp.audience.actions import create_list
from openesp.audience.imports import too_large_reason
from openesp.audience.models import ImportJob
from openesp.lib.uploads import upload_too_large
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

BIG = b"email\n" + b"someone@example.com\n" * 200_000  # 4 MB: past the in-memory handler's 2.5 MB


def test_the_parser_drops_a_file_over_the_limit_and_marks_the_request(settings, tmp_path):
    settings.OPENESP_IMPORT_MAX_BYTES = 3_000_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    request = RequestFactory().post("/x/", {"file": SimpleUploadedFile("big.csv", BIG), "mode": "update"})
    assert "file" not in request.FILES
    assert upload_too_large(request)
    assert list(tmp_path.iterdir()) == []


def test_a_file_under_the_limit_is_kept(settings):
    settings.OPENESP_IMPORT_MAX_BYTES = 5_000_000
    request = RequestFactory().post("/x/", {"file": SimpleUploadedFile("big.csv", BIG)})
    assert request.FILES["file"].size == len(BIG)
    assert not upload_too_large(request)


def test_the_api_answers_413_naming_the_file(settings, alice, workspace):
    settings.OPENESP_IMPORT_MAX_BYTES = 3_000_000
    news = create_list(workspace, "News")
    api = api_for(alice, workspace=workspace)
    response = api.client.post(
        f"/api/v1/lists/{news.pk}/imports",
        {"file": SimpleUploadedFile("big.csv", BIG)},
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "file"
    assert not ImportJob.objects.exists()


def test_the_upload_page_names_the_limit_not_a_missing_file(settings, alice, workspace):
    settings.OPENESP_IMPORT_MAX_BYTES = 3_000_000
    news = create_list(workspace, "News")
    client = Client()
    client.force_login(alice)
    page = client.post(
        reverse("ws-imports", args=[workspace.pk]),
        {"contact_list": news.pk, "mode": "subscribe", "file": SimpleUploadedFile("big.csv", BIG)},
    )
    assert page.status_code in (200, 422)
    html = page.content.decode()
    assert too_large_reason().replace("'", "&#x27;") in html or too_large_reason() in html
    assert not ImportJob.objects.exists()

"""The import pages: upload → columns → the job's page with its counts and report."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from openesp.accounts.models import Membership, Role, User, Workspace
from openesp.audience import imports
from openesp.audience.actions import create_contact, create_list
from openesp.audience.models import Contact, ImportJob
from tests.audience.import_helpers import queue, run_all
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db

CSV = "E-post;Namn;Favourite colour\nann@example.com;Ann;blå\nbad;X;y\n"


@pytest.fixture
def news(workspace):
    return create_list(workspace, "News")


def _upload(client, workspace, news, data: str | bytes = CSV, **extra):
    raw = data.encode() if isinstance(data, str) else data
    body = {"contact_list": news.pk, "mode": "subscribe", "consent_text_version": "v2",
            "file": SimpleUploadedFile("people.csv", raw, content_type="text/csv"), **extra}  # fmt: skip
    return client.post(reverse("ws-imports", args=[workspace.pk]), body)


def test_upload_map_and_follow_an_import_to_its_report(as_alice, workspace, news):
    response = _upload(as_alice, workspace, news)
    assert response.status_code == 302 and response["Location"] == reverse("ws-import-map", args=[workspace.pk])
    page = as_alice.get(response["Location"]).content.decode()
    assert 'data-testid="encoding">UTF-8<' in page and 'data-testid="delimiter">semicolon<' in page
    assert '<span class="sample">ann@example.com</span>' in page  # a sample value
    assert '<span class="sample">E-post</span>' not in page  # the header is no sample
    assert '<option value="email" selected>' in page
    assert '<option value="attributes.Favourite_colour">' in page

    started = as_alice.post(
        reverse("ws-import-map", args=[workspace.pk]),
        {"column-0": "email", "column-1": "name", "column-2": "attributes.Favourite_colour"},
    )
    job = ImportJob.objects.get()
    assert started["Location"] == reverse("ws-import", args=[workspace.pk, job.pk])
    assert (job.status, job.consent_text_version, job.file_name) == ("queued", "v2", "people.csv")
    state = json.loads(as_alice.get(reverse("ws-import-status", args=[workspace.pk, job.pk])).content)
    assert state["running"] is True

    run_all()
    state = json.loads(as_alice.get(reverse("ws-import-status", args=[workspace.pk, job.pk])).content)
    assert {k: state[k] for k in ("status", "running", "percent", "created", "skipped")} == {
        "status": "done",
        "running": False,
        "percent": 100.0,
        "created": 1,
        "skipped": 1,
    }
    page = as_alice.get(started["Location"]).content.decode()
    assert 'data-testid="count-created">1<' in page and 'data-testid="count-skipped">1<' in page
    assert reverse("ws-import-report", args=[workspace.pk, job.pk]) in page
    report = as_alice.get(reverse("ws-import-report", args=[workspace.pk, job.pk]))
    assert b"".join(report.streaming_content).decode().splitlines()[1].startswith("2,email: ")
    assert Contact.objects.get().attributes == {"Favourite_colour": "blå"}
    listing = as_alice.get(reverse("ws-imports", args=[workspace.pk])).content.decode()
    assert "people.csv" in listing


def test_the_mapping_names_attributes_as_the_workspace_spells_them(as_alice, workspace, news):
    create_contact(workspace, "old@example.com", attributes={"COLOUR": "red"})
    _upload(as_alice, workspace, news, "email,colour,Colour\nann@example.com,blå,x\n")
    page = as_alice.get(reverse("ws-import-map", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<option value="attributes.colour" selected>Attribut ”COLOUR”</option>' in page
    as_alice.post(reverse("ws-import-map", args=[workspace.pk]), {"column-0": "email", "column-1": "attributes.colour"})
    run_all()
    assert Contact.objects.get(email="ann@example.com").attributes == {"COLOUR": "blå"}
    # Mapped automatically (the API, the CLI), the second column of one attribute is left out.
    job = queue(workspace, news, "email,colour,Colour\nbo@example.com,grön,x\n")
    page = as_alice.get(reverse("ws-import", args=[workspace.pk, job.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Kolumnen ”Colour” hoppas över: en annan kolumn innehåller samma fält eller attribut." in page


def test_the_pages_speak_swedish(as_alice, workspace, news):
    _upload(as_alice, workspace, news)
    page = as_alice.get(reverse("ws-import-map", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Vad finns i varje kolumn?" in page and "semikolon" in page
    as_alice.post(reverse("ws-import-map", args=[workspace.pk]), {"column-0": "email", "column-1": "name"})
    run_all()
    job = ImportJob.objects.get()
    page = as_alice.get(reverse("ws-import", args=[workspace.pk, job.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Klar" in page and "hoppades över" in page
    assert "Ladda ner rapporten över överhoppade rader" in page


def test_a_missing_file_and_a_file_without_addresses_are_shown_at_the_field(as_alice, workspace, news):
    response = as_alice.post(reverse("ws-imports", args=[workspace.pk]), {"contact_list": news.pk, "mode": "update"})
    assert response.status_code == 200 and field_error(response.content.decode(), "file")
    before = set(imports.imports_dir().iterdir())
    response = _upload(as_alice, workspace, news, "")
    assert field_error(response.content.decode(), "file")
    assert set(imports.imports_dir().iterdir()) == before


def test_a_mapping_without_the_email_column_is_refused(as_alice, workspace, news):
    _upload(as_alice, workspace, news)
    url = reverse("ws-import-map", args=[workspace.pk])
    response = as_alice.post(url, {"column-0": "name", "column-1": "", "column-2": ""})
    assert "Choose the column that holds the e-mail addresses." in response.content.decode()
    response = as_alice.post(url, {"column-0": "email", "column-1": "attributes.evil key", "column-2": ""})
    assert "Choose one of the offered fields for each column." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_mapping_page_without_an_upload_sends_back_to_the_form(as_alice, workspace):
    response = as_alice.get(reverse("ws-import-map", args=[workspace.pk]))
    assert response["Location"] == reverse("ws-imports", args=[workspace.pk])


def test_cancelling_from_the_page(as_alice, workspace, news):
    _upload(as_alice, workspace, news)
    as_alice.post(reverse("ws-import-map", args=[workspace.pk]), {"column-0": "email"})
    job = ImportJob.objects.get()
    as_alice.post(reverse("ws-import-cancel", args=[workspace.pk, job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_viewers_see_imports_but_cannot_upload_or_cancel(client, org, workspace, news, as_alice):
    dana = User.objects.create_user("dana@example.org", "correct horse battery staple", email_verified=True)
    Membership.objects.create(organization=org, user=dana, role=Role.VIEWER).workspaces.add(workspace)
    _upload(as_alice, workspace, news)
    as_alice.post(reverse("ws-import-map", args=[workspace.pk]), {"column-0": "email"})
    job = ImportJob.objects.get()
    client.force_login(dana)
    page = client.get(reverse("ws-imports", args=[workspace.pk]))
    assert page.status_code == 200 and 'data-testid="import-form"' not in page.content.decode()
    assert _upload(client, workspace, news).status_code == 403
    assert client.get(reverse("ws-import-map", args=[workspace.pk])).status_code == 403
    assert client.post(reverse("ws-import-cancel", args=[workspace.pk, job.pk])).status_code == 403
    assert client.get(reverse("ws-import", args=[workspace.pk, job.pk])).status_code == 200
    assert ImportJob.objects.get().status == "queued"


def test_charlie_gets_404_for_alices_import_even_in_his_own_workspace(
    as_charlie, charlie_org, workspace, news, as_alice
):
    _upload(as_alice, workspace, news)
    as_alice.post(reverse("ws-import-map", args=[workspace.pk]), {"column-0": "email"})
    job = ImportJob.objects.get()
    own = Workspace.objects.create(organization=charlie_org, name="Own")
    for name in ("ws-import", "ws-import-status", "ws-import-report"):
        assert as_charlie.get(reverse(name, args=[own.pk, job.pk])).status_code == 404
    assert as_charlie.post(reverse("ws-import-cancel", args=[own.pk, job.pk])).status_code == 404
    assert ImportJob.objects.get().status == "queued"

"""Attribute keys are stored as first written and compared case-folded: through the import, the
API, the filters, segments and the export (docs/decisions/009-attribute-keys-fold-case.md)."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from openesp.audience.actions import create_list
from openesp.audience.models import Contact
from tests.api.conftest import Api
from tests.audience.import_helpers import run_import

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts"


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def _emails(body: dict) -> list[str]:
    return sorted(c["email"] for c in body["items"])


def test_an_imported_column_and_an_api_key_are_one_attribute(alice_api: Api, workspace):
    news = create_list(workspace, "News")
    job = run_import(workspace, news, "email,Country\nse@example.com,SE\n")
    assert job.status == "done", job.error
    r = alice_api.post(
        CONTACTS, {"email": "no@example.com", "workspace": workspace.pk, "attributes": {"country": "NO"}}
    )
    assert r.status_code == 201, r.content
    assert r.json()["attributes"] == {"Country": "NO"}
    assert dict(Contact.objects.values_list("email", "attributes")) == {
        "se@example.com": {"Country": "SE"},
        "no@example.com": {"Country": "NO"},
    }

    # A segment and the API's filter find the contact by any spelling of the name.
    for query in ('attributes.country = "SE"', 'attributes.COUNTRY = "SE"', "attributes.country exists and "
                  'attributes.Country != "NO"'):  # fmt: skip
        found = alice_api.post("/api/v1/segments/preview", {"workspace": workspace.pk, "query": query})
        assert found.status_code == 200, found.content
        assert [c["email"] for c in found.json()["contacts"]] == ["se@example.com"], query
    filtered = alice_api.get(CONTACTS, workspace=workspace.pk, **{"attributes.country": "NO"})
    assert _emails(filtered.json()) == ["no@example.com"]
    assert _emails(alice_api.get(CONTACTS, workspace=workspace.pk, **{"attributes.cOuNtRy": ""}).json()) == [
        "no@example.com",
        "se@example.com",
    ]

    # PATCH with another spelling changes, or removes, the one attribute.
    contact_id = r.json()["id"]
    patched = alice_api.patch(f"{CONTACTS}/{contact_id}", {"attributes": {"COUNTRY": "DK"}})
    assert patched.json()["attributes"] == {"Country": "DK"}
    assert alice_api.patch(f"{CONTACTS}/{contact_id}", {"attributes": {"country": None}}).json()["attributes"] == {}
    alice_api.patch(f"{CONTACTS}/{contact_id}", {"attributes": {"country": "NO"}})

    # A plain client: the secret guard of tests/api/conftest.py reads .content, which a stream lacks.
    export = Client().get(
        f"/api/v1/workspaces/{workspace.pk}/contacts/export", HTTP_AUTHORIZATION=f"Bearer {alice_api.key}"
    )
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [h for h in rows[0] if h.startswith("attributes.")] == ["attributes.Country"]
    assert sorted(row[-1] for row in rows[1:]) == ["NO", "SE"]


def test_keys_that_fold_equal_in_one_payload_are_refused(alice_api: Api, workspace):
    r = alice_api.post(
        CONTACTS,
        {"email": "ann@example.com", "workspace": workspace.pk, "attributes": {"Country": "SE", "country": "NO"}},
    )
    assert r.status_code == 422
    assert "attributes" in _fields(r)
    assert "Country" in _fields(r)["attributes"] and "country" in _fields(r)["attributes"]
    assert not Contact.objects.exists()

    created = alice_api.post(CONTACTS, {"email": "bo@example.com", "workspace": workspace.pk, "attributes": {"a": 1}})
    r = alice_api.patch(f"{CONTACTS}/{created.json()['id']}", {"attributes": {"Plan": "pro", "PLAN": None}})
    assert r.status_code == 422
    assert "attributes" in _fields(r)
    assert Contact.objects.get().attributes == {"a": 1}

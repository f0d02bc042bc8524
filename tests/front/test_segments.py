"""The segments pages: list with counts, new/edit with preview (without script), the segment's
contacts, delete; viewers look but do not change; another workspace's segment is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Membership, Role, Workspace
from openesp.audience import actions
from openesp.audience.models import Segment
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(workspace: Workspace) -> Workspace:
    for i in range(3):
        actions.create_contact(workspace, f"se{i}@example.com", attributes={"country": "SE"})
    actions.create_contact(workspace, "no@example.com", attributes={"country": "NO"})
    return workspace


def test_the_list_shows_each_segment_with_its_count(as_alice: Client, people):
    Segment.objects.create(workspace=people, name="Swedes", query='attributes.country = "SE"')
    Segment.objects.create(workspace=people, name="Norwegians", query='attributes.country = "NO"')
    html = as_alice.get(reverse("ws-segments", args=[people.pk])).content.decode()
    assert '<tr data-segment="Norwegians">' in html and '<tr data-segment="Swedes">' in html
    counts = [part.split("<")[0] for part in html.split('data-testid="segment-count">')[1:]]
    assert counts == ["1", "3"]  # by name: Norwegians, Swedes
    assert reverse("ws-segment-new", args=[people.pk]) in html
    assert 'data-testid="ws-tabs"' in html


def test_a_segment_is_created_previewed_and_saved(as_alice: Client, people, alice):
    url = reverse("ws-segment-new", args=[people.pk])
    form = as_alice.get(url).content.decode()
    assert 'data-testid="segment-help"' in form and "segments.js" in form
    preview = as_alice.post(url, {"name": "Swedes", "query": 'attributes.country = "SE"', "preview": "1"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert '<strong data-testid="preview-count">3</strong>' in html and "se0@example.com" in html
    assert not Segment.objects.exists()  # a preview saves nothing
    saved = as_alice.post(url, {"name": "Swedes", "query": 'attributes.country = "SE"'})
    segment = Segment.objects.get()
    assert saved["Location"] == reverse("ws-segment", args=[people.pk, segment.pk])
    assert (segment.name, segment.created_by) == ("Swedes", alice)
    page = as_alice.get(saved["Location"]).content.decode()
    assert '<dd data-testid="segment-count">3</dd>' in page
    assert '<tr data-contact="se0@example.com">' in page and "no@example.com" not in page


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"name": "X", "query": "attributes.country = "}, "query", "found the end of the query at column 22"),
        (
            {"name": "X", "query": 'in list "Nope"'},
            "query",
            "the workspace has no list named &quot;Nope&quot; at column 1",
        ),
        ({"name": "Taken", "query": "opened"}, "name", "the workspace has a segment of this name already"),
        ({"name": "", "query": "opened"}, "name", ""),
    ],
)
def test_bad_input_shows_next_to_its_field_and_saves_nothing(as_alice: Client, people, data, field, text):
    Segment.objects.create(workspace=people, name="Taken", query="clicked")
    for extra in ({}, {"preview": "1"}):
        if extra and field == "name":
            continue  # a preview does not save, so it does not check the name against others
        response = as_alice.post(reverse("ws-segment-new", args=[people.pk]), {**data, **extra})
        assert response.status_code == 400
        html = response.content.decode()
        assert field_error(html, field)
        assert text in html
    assert list(Segment.objects.values_list("name", flat=True)) == ["Taken"]


def test_a_segment_is_changed_and_deleted(as_alice: Client, people):
    segment = Segment.objects.create(workspace=people, name="Swedes", query='attributes.country = "SE"')
    edit = reverse("ws-segment-edit", args=[people.pk, segment.pk])
    assert "attributes.country = &quot;SE&quot;" in as_alice.get(edit).content.decode()
    response = as_alice.post(edit, {"name": "Nordics", "query": 'attributes.country != "DK"'})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.query) == ("Nordics", 'attributes.country != "DK"')
    response = as_alice.post(reverse("ws-segment-delete", args=[people.pk, segment.pk]))
    assert response["Location"] == reverse("ws-segments", args=[people.pk])
    assert not Segment.objects.exists()
    assert people.contacts.count() == 4


def test_the_contacts_of_a_segment_are_paged(as_alice: Client, workspace):
    for i in range(55):
        actions.create_contact(workspace, f"c{i:02}@example.com")
    segment = Segment.objects.create(workspace=workspace, name="All", query='status = "active"')
    url = reverse("ws-segment", args=[workspace.pk, segment.pk])
    first = as_alice.get(url).content.decode()
    assert first.count("<tr data-contact=") == 50 and "c00@example.com" in first and "c50@example.com" not in first
    second = as_alice.get(url, {"page": 2}).content.decode()
    assert second.count("<tr data-contact=") == 5 and "c54@example.com" in second


def test_the_preview_view_answers_json(as_alice: Client, people):
    url = reverse("ws-segment-preview", args=[people.pk])
    assert as_alice.get(url, {"query": 'attributes.country = "NO"'}).json() == {
        "ok": True,
        "count": 1,
        "contacts": ["no@example.com"],
    }
    bad = as_alice.get(url, {"query": "attributes.country ="}).json()
    assert bad["ok"] is False and bad["column"] == 21
    assert bad["error"].endswith("at column 21")
    too_long = as_alice.get(url, {"query": "x" * 5000}).json()
    assert too_long["error"] == "the query is longer than 2000 characters at column 2001"


def test_viewers_look_but_do_not_change(as_bob: Client, bob, people):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    segment = Segment.objects.create(workspace=people, name="Swedes", query='attributes.country = "SE"')
    html = as_bob.get(reverse("ws-segments", args=[people.pk])).content.decode()
    assert 'data-testid="read-only"' in html and 'data-testid="new-segment"' not in html
    detail = as_bob.get(reverse("ws-segment", args=[people.pk, segment.pk])).content.decode()
    assert 'data-testid="edit-segment"' not in detail
    assert as_bob.get(reverse("ws-segment-preview", args=[people.pk]), {"query": "opened"}).status_code == 200
    refused = as_bob.get(reverse("ws-segment-new", args=[people.pk]), HTTP_ACCEPT_LANGUAGE="sv")
    assert refused.status_code == 403
    assert "Läsare kan se den här arbetsytans mottagare men inte ändra dem." in refused.content.decode()
    assert as_bob.post(reverse("ws-segment-new", args=[people.pk]), {"name": "X", "query": "opened"}).status_code == 403
    edit = reverse("ws-segment-edit", args=[people.pk, segment.pk])
    assert as_bob.post(edit, {"name": "X", "query": "opened"}).status_code == 403
    assert as_bob.post(reverse("ws-segment-delete", args=[people.pk, segment.pk])).status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Swedes"


def test_a_segment_of_another_workspace_is_not_found_here(as_alice: Client, people, org):
    other = Workspace.objects.create(organization=org, name="Sales")
    foreign = Segment.objects.create(workspace=other, name="Theirs", query="opened")
    for name, method in (("ws-segment", "get"), ("ws-segment-edit", "get"), ("ws-segment-delete", "post")):
        assert getattr(as_alice, method)(reverse(name, args=[people.pk, foreign.pk])).status_code == 404
    assert Segment.objects.filter(pk=foreign.pk).exists()


def test_the_pages_speak_swedish(as_alice: Client, people):
    Segment.objects.create(workspace=people, name="Swedes", query='attributes.country = "SE"')
    html = as_alice.get(reverse("ws-segments", args=[people.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Segment" in html and "Kontakter" in html and "Nytt segment" in html
    form = as_alice.get(reverse("ws-segment-new", args=[people.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Frågesyntax" in form and "Förhandsgranska" in form
    assert "jämför med ett datum, t.ex." in form
    empty = Workspace.objects.create(organization=people.organization, name="Empty")
    html = as_alice.get(reverse("ws-segments", args=[empty.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Inga segment ännu." in html and "Dess kontakter räknas om varje gång." in html

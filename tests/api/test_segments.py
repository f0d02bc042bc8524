"""The segments API and the contacts API's attribute, segment and query filters."""

from __future__ import annotations

from typing import Any

import pytest

from openesp.accounts.models import Membership, Role, Workspace
from openesp.audience import actions
from openesp.audience.models import Segment
from openesp.messaging.models import Event, EventType, Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(workspace: Workspace) -> Workspace:
    news = actions.create_list(workspace, "Newsletter")
    actions.create_contact(workspace, "ann@example.com", attributes={"country": "SE", "age": 34, "vip": True},
                           lists=[news])  # fmt: skip
    actions.create_contact(workspace, "bo@example.com", attributes={"country": "NO", "age": "34", "vip": "true"})
    actions.create_contact(workspace, "cy@example.com", attributes={"country": "SE", "age": 19})
    message = Message.objects.create(
        organization=workspace.organization, workspace=workspace, from_email="a@acme.example",
        to_email="cy@example.com", subject="Hi",
    )  # fmt: skip
    Event.objects.create(message=message, type=EventType.OPENED)
    return workspace


def _emails(body: dict[str, Any]) -> list[str]:
    return [item["email"] for item in body["items"]]


def test_a_segment_is_created_read_listed_changed_and_deleted(alice, people):
    api = api_for(alice)
    created = api.post(
        "/api/v1/segments", {"name": "Swedes", "query": 'attributes.country = "SE"', "workspace": people.pk}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["count"], body["workspace_id"]) == ("Swedes", 2, people.pk)
    segment_id = body["id"]
    assert api.get(f"/api/v1/segments/{segment_id}").json()["count"] == 2
    assert [s["name"] for s in api.get("/api/v1/segments", workspace=people.pk).json()] == ["Swedes"]
    # The count is live: a new Swede counts at once.
    actions.create_contact(people, "di@example.com", attributes={"country": "SE"})
    assert api.get(f"/api/v1/segments/{segment_id}").json()["count"] == 3

    changed = api.patch(f"/api/v1/segments/{segment_id}", {"query": 'attributes.country = "SE" and never opened'})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["count"]) == ("Swedes", 2)
    page = api.get(f"/api/v1/segments/{segment_id}/contacts", limit=1).json()
    assert _emails(page) == ["ann@example.com"]
    rest = api.get(f"/api/v1/segments/{segment_id}/contacts", limit=1, cursor=page["next_cursor"]).json()
    assert (_emails(rest), rest["next_cursor"]) == (["di@example.com"], None)

    assert api.delete(f"/api/v1/segments/{segment_id}").status_code == 204
    assert api.get(f"/api/v1/segments/{segment_id}").status_code == 404
    assert not Segment.objects.exists()


def test_a_workspace_key_uses_its_own_workspace(alice, people):
    api = api_for(alice, workspace=people)
    assert api.post("/api/v1/segments", {"name": "VIP", "query": "attributes.vip = true"}).json()["count"] == 1
    assert api.get("/api/v1/segments").json()[0]["name"] == "VIP"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"name": "X", "query": 'attributes.country = "SE" and'}, "query",
         "expected a condition, found the end of the query at column 30"),
        ({"name": "X", "query": "opened in 90 dayz"}, "query", 'expected "days" after 90, found "dayz" at column 14'),
        ({"name": "X", "query": 'in list "Nope"'}, "query", 'the workspace has no list named "Nope" at column 1'),
        ({"name": "X", "query": "x" * 2001}, "query", "the query is longer than 2000 characters at column 2001"),
        ({"name": " ", "query": "opened"}, "name", "must be 1 to 200 characters"),
        ({"name": "Taken", "query": "opened"}, "name", "the workspace has a segment of this name already"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(alice, people, body, field, reason):
    api = api_for(alice)
    api.post("/api/v1/segments", {"name": "Taken", "query": "clicked", "workspace": people.pk})
    other = api.post("/api/v1/segments", {"name": "Other", "query": "sent", "workspace": people.pk}).json()
    before = list(Segment.objects.order_by("pk").values())
    response = api.post("/api/v1/segments", {**body, "workspace": people.pk})
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [{"field": field, "reason": reason}]
    response = api.patch(f"/api/v1/segments/{other['id']}", body)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": field, "reason": reason}]
    assert list(Segment.objects.order_by("pk").values()) == before


def test_preview_counts_and_shows_the_first_contacts(alice, people):
    response = api_for(alice).post("/api/v1/segments/preview", {"query": "attributes.age = 34", "workspace": people.pk})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
    assert [c["email"] for c in response.json()["contacts"]] == ["ann@example.com"]
    bad = api_for(alice).post("/api/v1/segments/preview", {"query": "attributes.age = ", "workspace": people.pk})
    assert bad.json()["errors"][0] == {
        "field": "query",
        "reason": 'expected a value (a "text" in quotes, a number, true, false or N days ago), found the end of '
        "the query at column 18",
    }


def test_viewers_read_and_preview_but_cannot_change(bob, people):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    segment = Segment.objects.create(workspace=people, name="All", query='status = "active"')
    api = api_for(bob)
    assert api.get(f"/api/v1/segments/{segment.pk}").json()["count"] == 3
    assert api.post("/api/v1/segments/preview", {"query": "opened", "workspace": people.pk}).json()["count"] == 1
    assert api.post("/api/v1/segments", {"name": "X", "query": "opened", "workspace": people.pk}).status_code == 403
    assert api.patch(f"/api/v1/segments/{segment.pk}", {"name": "Y"}).status_code == 403
    assert api.delete(f"/api/v1/segments/{segment.pk}").status_code == 403
    assert list(Segment.objects.values_list("name", flat=True)) == ["All"]


# --- the contacts list's filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"attributes.country": "SE"}, ["ann", "cy"]),
        ({"attributes.country": "se"}, []),
        # A query string is text: 34 finds the number and the text alike; true the boolean and the text.
        ({"attributes.age": "34"}, ["ann", "bo"]),
        ({"attributes.vip": "true"}, ["ann", "bo"]),
        ({"attributes.country": "SE", "attributes.age": "19"}, ["cy"]),
        ({"attributes.vip": ""}, ["ann", "bo"]),
        ({"q": 'attributes.country = "SE" and not opened in 90 days'}, ["ann"]),
        ({"q": 'in list "Newsletter"', "attributes.country": "SE"}, ["ann"]),
        ({"q": "attributes.age = 34", "status": "active"}, ["ann"]),
        ({"q": ""}, ["ann", "bo", "cy"]),  # an empty filter filters nothing, as for email
    ],
)
def test_contacts_filter_by_attribute_and_query(alice, people, query, expected):
    response = api_for(alice).get("/api/v1/contacts", workspace=people.pk, **query)
    assert response.status_code == 200, response.content
    assert _emails(response.json()) == [f"{name}@example.com" for name in expected]


def test_contacts_filter_by_segment(alice, people, org):
    segment = Segment.objects.create(workspace=people, name="Young", query="attributes.age < 20")
    api = api_for(alice)
    assert _emails(api.get("/api/v1/contacts", workspace=people.pk, segment=segment.pk).json()) == ["cy@example.com"]
    # A segment of another workspace of the same caller is not this workspace's: 404.
    other = Workspace.objects.create(organization=org, name="Sales")
    foreign = Segment.objects.create(workspace=other, name="Young", query="attributes.age < 20")
    response = api.get("/api/v1/contacts", workspace=people.pk, segment=foreign.pk)
    assert (response.status_code, response.json()["detail"]) == (404, "segment not found")


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"q": "attributes.age >"}, "query", "expected a value"),
        ({"attributes.a'b": "1"}, "attributes.a'b", "is not an attribute name"),
        ({"attributes.": "1"}, "attributes.", "is not an attribute name"),
    ],
)
def test_bad_contact_filters_are_422s(alice, people, query, field, reason):
    response = api_for(alice).get("/api/v1/contacts", workspace=people.pk, **query)
    assert response.status_code == 422
    (problem,) = response.json()["errors"]
    assert problem["field"] == field and problem["reason"].startswith(reason)


def test_the_attribute_filter_is_in_the_openapi_description(alice):
    schema = api_for(alice).get("/api/openapi.json").json()
    operation = schema["paths"]["/api/v1/contacts"]["get"]
    assert "`attributes.<name>=<value>`" in operation["description"]
    assert {"attributes.<name>", "segment", "q"} <= {p["name"] for p in operation["parameters"]}

"""Segment queries evaluated against real contacts, on SQLite and PostgreSQL alike.

Each test builds a few contacts and asserts exactly which of them a query matches, so that a
condition that matched too much (or nothing at all) fails.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from openesp.accounts.models import Workspace
from openesp.audience import actions
from openesp.audience.models import Contact, ContactList, ContactTopic, Segment, Topic
from openesp.audience.segment_syntax import QueryError
from openesp.audience.segments import (
    create_segment,
    delete_segment,
    matching_contacts,
    segment_contacts,
    segment_count,
    update_segment,
)
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Event, EventType, Message

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _contact(workspace: Workspace, email: str, **kw: Any) -> Contact:
    return actions.create_contact(workspace, email, **kw)


def _match(workspace: Workspace, query: str) -> set[str]:
    return set(matching_contacts(workspace, query, now=NOW).values_list("email", flat=True))


@pytest.fixture
def people(workspace: Workspace) -> Workspace:
    """Contacts with attributes of every JSON type, and some without them."""
    ann = {"country": "SE", "age": 34, "vip": True, "score": 2.5, "joined": "2024-03-01"}
    _contact(workspace, "ann@example.com", name="Ann Andersson", language="sv", attributes=ann)
    bo = {"country": "NO", "age": 19, "vip": False, "score": 10, "joined": "2025-11-30T08:00:00Z"}
    _contact(workspace, "bo@example.com", name="Bo", attributes=bo)
    # Values that have the right text but the wrong JSON type: they must not match numbers and booleans.
    _contact(workspace, "cy@example.com", name="Cy 100%_sure", attributes={"country": "se", "age": "34", "vip": "true"})
    _contact(workspace, "di@example.com", attributes={"age": 1, "vip": 1})
    _contact(workspace, "ed@example.com")
    return workspace


ALL = {"ann@example.com", "bo@example.com", "cy@example.com", "di@example.com", "ed@example.com"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('attributes.country = "SE"', {"ann"}),
        ('attributes.country != "SE"', {"bo", "cy", "di", "ed"}),
        ('not attributes.country = "SE"', {"bo", "cy", "di", "ed"}),
        ("attributes.age = 34", {"ann"}),
        ('attributes.age = "34"', {"cy"}),
        ("attributes.age > 18", {"ann", "bo"}),
        ("attributes.age >= 19", {"ann", "bo"}),
        ("attributes.age < 19", {"di"}),
        ("attributes.age <= 19", {"bo", "di"}),
        ("not attributes.age > 18", {"cy", "di", "ed"}),
        ("attributes.score > 2.4", {"ann", "bo"}),
        ("attributes.score = 2.5", {"ann"}),
        ("attributes.score = 10.0", {"bo"}),
        ("attributes.vip = true", {"ann"}),
        ("attributes.vip = false", {"bo"}),
        ("attributes.vip != true", {"bo", "cy", "di", "ed"}),
        ('attributes.vip = "true"', {"cy"}),
        # Strings never compare with numbers, on either database: "34" > 5 is no match.
        ("attributes.country > 5", set()),
        ('attributes.age > "1"', {"cy"}),
        ('attributes.joined >= "2025-01-01"', {"bo"}),
        ('attributes.joined < "2025-01-01"', {"ann"}),
        ("attributes.joined > 365 days ago", {"bo"}),
        ("attributes.country exists", {"ann", "bo", "cy"}),
        ("has attributes.age", {"ann", "bo", "cy", "di"}),
        ("not attributes.country exists", {"di", "ed"}),
        ('attributes.country contains "e"', {"ann", "cy"}),
        ('attributes.country starts with "s"', {"ann", "cy"}),
        ('attributes.country ends with "o"', {"bo"}),
        ('email = "ANN@example.com"', {"ann"}),
        ('email != "ann@example.com"', {"bo", "cy", "di", "ed"}),
        ('email ends with "@EXAMPLE.com"', {"ann", "bo", "cy", "di", "ed"}),
        ('email starts with "b"', {"bo"}),
        ('name contains "and"', {"ann"}),
        ('name = "Bo"', {"bo"}),
        ('name = ""', {"di", "ed"}),
        # LIKE wildcards in a value are plain characters.
        ('name contains "%"', {"cy"}),
        ('name contains "0%_s"', {"cy"}),
        ('name contains "_"', {"cy"}),
        ('name starts with "%"', set()),
        ('language = "sv"', {"ann"}),
        ('status = "active"', {"ann", "bo", "cy", "di", "ed"}),
        ('status = "bounced"', set()),
        # and binds tighter than or; not tighter than both.
        ('attributes.country = "NO" or attributes.age = 1 and attributes.vip = 1', {"bo", "di"}),
        ('(attributes.country = "NO" or attributes.age = 1) and attributes.vip = false', {"bo"}),
        ('not attributes.country = "SE" and not attributes.country = "NO"', {"cy", "di", "ed"}),
        ('not (attributes.country = "SE" or attributes.country = "NO")', {"cy", "di", "ed"}),
        ("not not attributes.vip = true", {"ann"}),
    ],
)
def test_it_matches_contacts_by_their_fields_and_attributes(people, query, expected):
    assert _match(people, query) == {f"{name}@example.com" for name in expected}


def test_it_compares_creation_dates_by_whole_days(workspace):
    for day in (14, 15, 16):
        contact = _contact(workspace, f"d{day}@example.com")
        Contact.objects.filter(pk=contact.pk).update(created_at=datetime(2026, 1, day, 23, 59, tzinfo=UTC))
    assert _match(workspace, 'created_at = "2026-01-15"') == {"d15@example.com"}
    assert _match(workspace, 'created_at != "2026-01-15"') == {"d14@example.com", "d16@example.com"}
    assert _match(workspace, 'created_at < "2026-01-15"') == {"d14@example.com"}
    assert _match(workspace, 'created_at <= "2026-01-15"') == {"d14@example.com", "d15@example.com"}
    assert _match(workspace, 'created_at > "2026-01-15"') == {"d16@example.com"}
    assert _match(workspace, 'created_at >= "2026-01-15"') == {"d15@example.com", "d16@example.com"}
    assert _match(workspace, 'created_at > "2026-01-15T23:59:00+00:00"') == {"d16@example.com"}
    assert _match(workspace, 'created_at >= "2026-01-15T23:59:00"') == {"d15@example.com", "d16@example.com"}
    # NOW is 2026-06-15 12:00: 152 days ago is 2026-01-14 12:00.
    assert _match(workspace, "created_at > 152 days ago") == {"d14@example.com", "d15@example.com", "d16@example.com"}
    assert _match(workspace, "created_at < 151 days ago") == {"d14@example.com"}


@pytest.fixture
def lists(workspace: Workspace) -> dict[str, Any]:
    news = actions.create_list(workspace, "Newsletter")
    confirmed = actions.create_list(workspace, "Confirmed", double_opt_in=True)
    ann = _contact(workspace, "ann@example.com", lists=[news])
    bo = _contact(workspace, "bo@example.com", lists=[confirmed])  # pending
    cy = _contact(workspace, "cy@example.com", lists=[news, confirmed])
    actions.unsubscribe(cy, news, actions.Consent())
    _contact(workspace, "di@example.com")
    product = Topic.objects.create(workspace=workspace, name="Product news")
    Topic.objects.create(workspace=workspace, name="Survey results")
    ContactTopic.objects.create(contact=ann, topic=product)
    ContactTopic.objects.create(contact=bo, topic=product)
    return {"news": news, "confirmed": confirmed, "product": product}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('in list "Newsletter"', {"ann"}),
        ('in list "Confirmed"', {"bo", "cy"}),
        ('subscribed to list "Confirmed"', set()),
        ('pending on list "Confirmed"', {"bo", "cy"}),
        ('unsubscribed from list "Newsletter"', {"cy"}),
        ('not in list "Newsletter"', {"bo", "cy", "di"}),
        ('in list "Newsletter" or in list "Confirmed"', {"ann", "bo", "cy"}),
        ('in category "Product news"', {"ann", "bo"}),
        ('in category "Survey results"', set()),
        ('not in category "Product news" and not in list "Confirmed"', {"di"}),
    ],
)
def test_it_matches_list_and_category_members(lists, workspace, query, expected):
    assert _match(workspace, query) == {f"{name}@example.com" for name in expected}


def test_lists_and_categories_are_named_by_id_too(lists, workspace):
    assert _match(workspace, f"in list {lists['news'].pk}") == {"ann@example.com"}
    assert _match(workspace, f"in category {lists['product'].pk}") == {"ann@example.com", "bo@example.com"}


def test_a_list_of_another_workspace_is_unknown_here(lists, workspace, org):
    other = Workspace.objects.create(organization=org, name="Sales")
    other_list = actions.create_list(other, "Leads")
    with pytest.raises(QueryError) as excinfo:
        matching_contacts(workspace, f"in list {other_list.pk}")
    assert excinfo.value.reason == f"the workspace has no list with id {other_list.pk} at column 1"
    with pytest.raises(QueryError) as excinfo:
        matching_contacts(workspace, 'status = "active" and in category "Leads"')
    assert excinfo.value.reason == 'the workspace has no category named "Leads" at column 23'


def _mail(workspace: Workspace | None, to: str, *events: tuple[str, datetime]) -> Message:
    message = Message.objects.create(
        organization=workspace.organization if workspace else None, workspace=workspace,
        from_email="shop@acme.example", to_email=to, subject="Hi",
    )  # fmt: skip
    for kind, when in events:
        Event.objects.create(message=message, type=kind, created_at=when)
    return message


@pytest.fixture
def engaged(workspace: Workspace, org) -> Workspace:
    for name in ("ann", "bo", "cy", "di", "ed"):
        _contact(workspace, f"{name}@example.com")
    edge = NOW - timedelta(days=90)
    # ann opened just inside 90 days, bo just outside; the address's case does not matter.
    _mail(workspace, "Ann@Example.com", (EventType.SENT, edge), (EventType.OPENED, edge + timedelta(seconds=1)))
    _mail(workspace, "bo@example.com", (EventType.SENT, edge), (EventType.OPENED, edge - timedelta(seconds=1)))
    # cy clicked yesterday and had a message delivered; di's mail bounced.
    _mail(workspace, "cy@example.com", (EventType.DELIVERED, NOW - timedelta(days=1)),
          (EventType.CLICKED, NOW - timedelta(days=1)))  # fmt: skip
    _mail(workspace, "di@example.com", (EventType.BOUNCED, NOW - timedelta(days=3)))
    # ed's opens are in another workspace and in nobody's: they do not count here.
    other = Workspace.objects.create(organization=org, name="Sales")
    _mail(other, "ed@example.com", (EventType.OPENED, NOW))
    _mail(None, "ed@example.com", (EventType.OPENED, NOW))
    return workspace


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("opened", {"ann", "bo"}),
        ("opened in 90 days", {"ann"}),
        ("opened in the last 91 days", {"ann", "bo"}),
        ("not opened in 90 days", {"bo", "cy", "di", "ed"}),
        ("never opened", {"cy", "di", "ed"}),
        ("never opened in 90 days", {"bo", "cy", "di", "ed"}),
        ("clicked in 30 days", {"cy"}),
        ("sent in 7 days", {"cy"}),  # a delivery counts as sent
        ("sent", {"ann", "bo", "cy"}),
        ("delivered", {"cy"}),
        ("bounced in 7 days", {"di"}),
        ("bounced in 2 days", set()),
        ("complained", set()),
        ("sent and never clicked", {"ann", "bo"}),
    ],
)
def test_it_matches_engagement_in_the_workspace(engaged, query, expected):
    assert _match(engaged, query) == {f"{name}@example.com" for name in expected}


def test_the_issues_example(workspace):
    _contact(workspace, "se-quiet@example.com", attributes={"country": "SE"})
    _contact(workspace, "se-reader@example.com", attributes={"country": "SE"})
    _contact(workspace, "no-quiet@example.com", attributes={"country": "NO"})
    _mail(workspace, "se-reader@example.com", (EventType.OPENED, NOW - timedelta(days=10)))
    query = 'attributes.country = "SE" and not opened in 90 days'
    assert _match(workspace, query) == {"se-quiet@example.com"}


def test_it_runs_as_one_query_in_the_database(engaged, django_assert_num_queries):
    # Saved without the reference check: lists and categories that do not exist match nobody.
    segment = Segment.objects.create(
        workspace=engaged, name="All", query="opened in 90 days or attributes.x = 1 or in list 1 or in category 1"
    )
    contacts = segment_contacts(segment, now=NOW)
    with django_assert_num_queries(1) as captured:
        assert contacts.count() == 1
    sql = captured.captured_queries[0]["sql"]
    assert "EXISTS" in sql.upper()


@pytest.mark.parametrize(
    "value",
    [
        "'; DROP TABLE audience_contact; --",
        '" OR 1=1 --',
        "x') OR ('1'='1",
        "$.country') OR 1=1 --",
    ],
)
def test_values_that_look_like_sql_are_only_data(people, value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    for query in (f'attributes.country = "{escaped}"', f'name contains "{escaped}"', f'email = "{escaped}"'):
        assert _match(people, query) == set()
    _contact(people, "sql@example.com", name=value, attributes={"country": value})
    assert _match(people, f'attributes.country = "{escaped}"') == {"sql@example.com"}
    assert _match(people, f'name contains "{escaped}"') == {"sql@example.com"}
    assert Contact.objects.count() == 6


@pytest.mark.parametrize(
    "key",
    ["country')", 'country"', "country' OR 1=1", "a.b", "$", "country--x=1"],
)
def test_attribute_names_that_look_like_sql_are_refused(people, key):
    with pytest.raises(QueryError):
        matching_contacts(people, f"attributes.{key} = 1")


def test_a_real_attribute_name_with_a_dash_works(workspace):
    _contact(workspace, "dash@example.com", attributes={"first-name": "Ann"})
    assert _match(workspace, 'attributes.first-name = "Ann"') == {"dash@example.com"}


def test_the_workspace_walls_off_other_contacts(people, org):
    other = Workspace.objects.create(organization=org, name="Sales")
    _contact(other, "elsewhere@example.com", attributes={"country": "SE"})
    assert _match(people, 'attributes.country = "SE"') == {"ann@example.com"}


# --- actions -------------------------------------------------------------------------------------


def test_a_segment_is_saved_counted_changed_and_deleted(people, alice):
    segment = create_segment(people, "  Swedes ", 'attributes.country = "SE"', actor=alice)
    assert (segment.name, segment.created_by) == ("Swedes", alice)
    assert segment_count(segment) == 1
    assert [c.email for c in segment_contacts(segment)] == ["ann@example.com"]
    update_segment(segment, query='attributes.country contains "s"')
    assert segment_count(segment) == 2
    update_segment(segment, name="Nordics")
    segment.refresh_from_db()
    assert (segment.name, segment.query) == ("Nordics", 'attributes.country contains "s"')
    delete_segment(segment)
    assert not Segment.objects.exists()


def test_segment_names_are_unique_per_workspace(people, org):
    create_segment(people, "VIP", "attributes.vip = true")
    with pytest.raises(InvalidInput) as excinfo:
        create_segment(people, "VIP", "attributes.vip = false")
    assert excinfo.value.as_dict() == {"name": "the workspace has a segment of this name already"}
    other = Workspace.objects.create(organization=org, name="Sales")
    assert create_segment(other, "VIP", "attributes.vip = true").name == "VIP"


def test_an_invalid_change_changes_nothing(people):
    segment = create_segment(people, "VIP", "attributes.vip = true")
    other = create_segment(people, "Young", "attributes.age < 20")
    with pytest.raises(QueryError):
        update_segment(segment, name="Renamed", query="attributes.vip = ")
    with pytest.raises(InvalidInput):
        update_segment(segment, name="Young", query="attributes.vip = false")
    with pytest.raises(InvalidInput):
        create_segment(people, "", "attributes.vip = true")
    segment.refresh_from_db()
    assert (segment.name, segment.query) == ("VIP", "attributes.vip = true")
    assert Segment.objects.count() == 2 and other.name == "Young"


def test_a_segment_whose_list_is_deleted_matches_nobody_for_that_condition(lists, workspace):
    segment = create_segment(workspace, "Readers", 'in list "Newsletter" or in category "Product news"')
    assert segment_count(segment) == 2
    ContactList.objects.filter(name="Newsletter").delete()
    assert {c.email for c in segment_contacts(segment)} == {"ann@example.com", "bo@example.com"}
    Topic.objects.all().delete()
    assert segment_count(segment) == 0


def test_sqlite_finds_a_contacts_messages_through_the_address_index(engaged):
    """Without the index on (workspace, lower(to_email)) being usable, SQLite runs the engagement
    subquery as a scan of every message of the workspace for every contact (minutes at 100k)."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics (hash joins); the plan shape is SQLite's")
    sql, params = matching_contacts(engaged, "opened in 90 days", now=NOW).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING INDEX message_ws_address_idx (workspace_id=? AND <expr>=?)" in plan, plan

"""Attribute keys: one spelling per workspace (the first written), compared case-folded; the
migration that folds the keys contacts already hold (docs/decisions/009-attribute-keys-fold-case.md)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from openesp.accounts.models import Workspace
from openesp.audience.actions import create_contact, create_list, update_contact
from openesp.audience.export import export_contacts_csv
from openesp.audience.imports import check_mapping
from openesp.audience.imports.mapping import auto_mapping
from openesp.audience.models import AttributeKey, Contact
from openesp.audience.queries import contacts_matching, parse_attribute_filter
from openesp.audience.segments import matching_contacts
from openesp.lib.errors import InvalidInput
from tests.audience.import_helpers import run_import

pytestmark = pytest.mark.django_db

migration = importlib.import_module("openesp.audience.migrations.0006_attribute_keys")


@pytest.fixture
def other(org) -> Workspace:
    return Workspace.objects.create(organization=org, name="Sales")


def _spellings(workspace: Workspace) -> dict[str, str]:
    return dict(AttributeKey.objects.filter(workspace=workspace).values_list("folded", "name"))


def test_the_first_spelling_written_stays(workspace):
    first = create_contact(workspace, "a@example.com", attributes={"Plan": "pro"})
    second = create_contact(workspace, "b@example.com", attributes={"PLAN": "free", "vip": True})
    assert second.attributes == {"Plan": "free", "vip": True}
    assert update_contact(first, {"attributes": {"plan": "team", "VIP": False}}).attributes == {
        "Plan": "team",
        "vip": False,
    }
    assert _spellings(workspace) == {"plan": "Plan", "vip": "vip"}
    # Removing the last "Plan" keeps its spelling: names are never forgotten.
    update_contact(first, {"attributes": {"PLAN": None}})
    update_contact(second, {"attributes": {"plan": None}})
    assert not Contact.objects.filter(attributes__has_key="Plan").exists()
    assert create_contact(workspace, "c@example.com", attributes={"plan": "x"}).attributes == {"Plan": "x"}


def test_a_refused_contact_registers_no_name(workspace):
    create_contact(workspace, "a@example.com")
    with pytest.raises(Exception):  # noqa: B017 - ContactExists, raised before any write
        create_contact(workspace, "A@example.com", attributes={"Shoe": 42})
    with pytest.raises(InvalidInput) as refused:
        create_contact(workspace, "b@example.com", attributes={"Shoe": 42, "shoe": 43})
    assert refused.value.problems[0].field == "attributes"
    assert _spellings(workspace) == {}


def test_the_filter_of_the_pages_and_the_segments_fold(workspace):
    create_contact(workspace, "se@example.com", attributes={"Country": "SE", "Age": 41})
    create_contact(workspace, "no@example.com", attributes={"country": "NO"})
    found = contacts_matching(workspace, {"attribute": parse_attribute_filter(workspace, "COUNTRY=NO")})
    assert [c.email for c in found] == ["no@example.com"]
    assert [c.email for c in matching_contacts(workspace, "attributes.age >= 40 and attributes.AGE exists")] == [
        "se@example.com"
    ]


def test_a_workspace_spelling_never_touches_another_workspace(workspace, other):
    create_contact(workspace, "a@example.com", attributes={"Country": "SE"})
    in_other = create_contact(other, "a@example.com", attributes={"country": "NO"})
    assert in_other.attributes == {"country": "NO"}
    news = create_list(other, "News")
    run_import(other, news, "email,COUNTRY,Region\nb@example.com,DK,North\n")
    assert Contact.objects.get(workspace=other, email="b@example.com").attributes == {
        "country": "DK",
        "Region": "North",
    }
    assert _spellings(workspace) == {"country": "Country"}
    assert _spellings(other) == {"country": "country", "region": "Region"}
    assert [c.email for c in matching_contacts(other, 'attributes.Country = "NO"')] == ["a@example.com"]
    header = next(iter(export_contacts_csv(other))).strip().split(",")
    assert [h for h in header if h.startswith("attributes.")] == ["attributes.Region", "attributes.country"]


def test_an_import_folds_its_header_to_the_workspace_spelling(workspace):
    create_contact(workspace, "old@example.com", attributes={"Country": "SE"})
    news = create_list(workspace, "News")
    job = run_import(workspace, news, "email,country\nold@example.com,NO\nnew@example.com,DK\n")
    assert (job.status, job.created, job.updated) == ("done", 1, 1)
    assert dict(Contact.objects.values_list("email", "attributes")) == {
        "old@example.com": {"Country": "NO"},
        "new@example.com": {"Country": "DK"},
    }


def test_two_columns_of_one_attribute_are_refused_or_left_out():
    with pytest.raises(InvalidInput) as refused:
        check_mapping(["Mail", "Country", "country"], {"Mail": "email", "Country": "attributes.Country",
                                                       "country": "attributes.country"})  # fmt: skip
    assert refused.value.problems[0].field == "mapping.country"
    mapping, warnings = auto_mapping(["email", "Country", "country"])
    assert mapping == {"email": "email", "Country": "attributes.Country", "country": ""}
    assert warnings == ["The column 'country' is ignored: another column holds the same field or attribute."]


def _raw(workspace: Workspace, email: str, attributes: dict) -> Contact:
    return Contact.objects.create(workspace=workspace, email=email, email_key=email, attributes=attributes)


def test_the_migration_folds_mixed_case_keys_to_the_first_spelling(workspace, other):
    # Written around the actions, as before this change.
    a = _raw(workspace, "a@example.com", {"country": "SE", "Plan": "pro"})
    b = _raw(workspace, "b@example.com", {"Country": "NO", "PLAN": "free", "vip": True})
    # Two spellings on one contact: the workspace's spelling ("country", from a) wins.
    c = _raw(workspace, "c@example.com", {"COUNTRY": "DK", "country": "FI"})
    # A name first seen on a contact with two spellings: the first in code-point order wins, its value too.
    d = _raw(workspace, "d@example.com", {"size": "M", "Size": "L"})
    e = _raw(other, "e@example.com", {"COUNTRY": "IS"})
    migration.fold_attribute_keys(apps, None)
    for contact in (a, b, c, d, e):
        contact.refresh_from_db()
    assert a.attributes == {"country": "SE", "Plan": "pro"}
    assert b.attributes == {"country": "NO", "Plan": "free", "vip": True}
    assert c.attributes == {"country": "FI"}
    assert d.attributes == {"Size": "L"}
    assert e.attributes == {"COUNTRY": "IS"}
    assert _spellings(workspace) == {"country": "country", "plan": "Plan", "vip": "vip", "size": "Size"}
    assert _spellings(other) == {"country": "COUNTRY"}
    # Again: nothing more to do, and the spellings registered since are kept.
    migration.fold_attribute_keys(apps, None)
    b.refresh_from_db()
    assert b.attributes == {"country": "NO", "Plan": "free", "vip": True}
    assert [c.email for c in matching_contacts(workspace, 'attributes.COUNTRY = "NO"')] == ["b@example.com"]

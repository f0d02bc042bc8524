"""Category actions: names unique per workspace, subscriptions with ledger rows, idempotency."""

from __future__ import annotations

import pytest

from openesp.accounts.models import Workspace
from openesp.audience import actions, categories, gdpr
from openesp.audience.actions import Consent
from openesp.audience.models import ConsentRecord, ContactTopic, Topic
from openesp.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(workspace):
    return actions.create_contact(workspace, "reader@example.net")


def _ledger(contact) -> list[tuple[str, str, str, str | None]]:
    return list(
        ConsentRecord.objects.filter(contact=contact).order_by("id").values_list("action", "topic_name", "source", "ip")
    )


def test_it_creates_renames_and_refuses_duplicates(org, workspace):
    news = categories.create_category(workspace, "  Product news ", description="Once a month")
    assert (news.name, news.description) == ("Product news", "Once a month")
    with pytest.raises(InvalidInput) as info:
        categories.create_category(workspace, "Product news")
    assert info.value.as_dict() == {"name": "the workspace has a category of this name already"}
    for bad in ["", "   ", "x" * 201, "tab\there"]:
        with pytest.raises(InvalidInput) as info:
            categories.create_category(workspace, bad)
        assert set(info.value.as_dict()) == {"name"}
    with pytest.raises(InvalidInput) as info:
        categories.create_category(workspace, "Long", description="x" * 1001)
    assert set(info.value.as_dict()) == {"description"}
    # Another workspace may use the name.
    other = Workspace.objects.create(organization=org, name="Other")
    categories.create_category(other, "Product news")

    surveys = categories.create_category(workspace, "Surveys")
    with pytest.raises(InvalidInput):
        categories.update_category(surveys, name="Product news")
    surveys.refresh_from_db()
    assert surveys.name == "Surveys"
    categories.update_category(surveys, name="Survey results", description="")
    assert Topic.objects.get(pk=surveys.pk).name == "Survey results"
    assert Topic.objects.filter(workspace=workspace).count() == 2


def test_subscribing_writes_the_ledger_once(contact, workspace):
    news = categories.create_category(workspace, "Product news")
    consent = Consent(source="api", detail="API key abc", ip="192.0.2.4")
    assert categories.subscribe_category(contact, news, consent) is True
    assert categories.subscribe_category(contact, news, consent) is False
    assert categories.unsubscribe_category(contact, news, consent) is True
    assert categories.unsubscribe_category(contact, news, consent) is False
    assert _ledger(contact) == [
        ("subscribe", "Product news", "api", "192.0.2.4"),
        ("unsubscribe", "Product news", "api", "192.0.2.4"),
    ]
    record = ConsentRecord.objects.filter(contact=contact).first()
    assert record is not None and record.topic_id == news.pk and record.contact_list_id is None


def test_set_categories_records_only_the_changes(contact, workspace):
    a, b, c = (categories.create_category(workspace, name) for name in ["A", "B", "C"])
    assert categories.set_categories(contact, [b, a]) == [a, b]
    assert categories.set_categories(contact, [c, b], Consent(source="preferences")) == [b, c]
    assert categories.categories_of(contact) == [b, c]
    assert _ledger(contact) == [
        ("subscribe", "A", "api", None),
        ("subscribe", "B", "api", None),
        ("unsubscribe", "A", "preferences", None),
        ("subscribe", "C", "preferences", None),
    ]
    before = len(_ledger(contact))
    categories.set_categories(contact, [b, c])
    assert len(_ledger(contact)) == before


def test_deleting_a_category_keeps_its_name_in_the_ledger(contact, workspace):
    news = categories.create_category(workspace, "Product news")
    categories.subscribe_category(contact, news)
    categories.delete_category(news)
    assert not ContactTopic.objects.exists()
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.topic_id, record.topic_name) == (None, "Product news")


def test_the_gdpr_export_lists_categories(contact, workspace):
    news = categories.create_category(workspace, "Product news")
    categories.subscribe_category(contact, news)
    export = gdpr.export_contact_data(contact)
    assert export["categories"] == ["Product news"]
    assert export["consent_records"][0]["category"] == "Product news"

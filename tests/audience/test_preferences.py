"""The preference centre's token and changes: only the contact's own lists, every change in the
ledger with the source ``preferences`` and the IP, bad input changing nothing."""

from __future__ import annotations

import pytest

from openesp.accounts.models import Workspace
from openesp.audience import actions, doubleoptin, preferences, suppressions
from openesp.audience.categories import categories_of, create_category, subscribe_category
from openesp.audience.models import (
    ConsentRecord,
    ContactStatus,
    ContactTopic,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionAudit,
)
from openesp.audience.preferences import InvalidToken, contact_for_token, make_token
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Message

pytestmark = pytest.mark.django_db

IP = "198.51.100.20"


@pytest.fixture
def setup(workspace):
    news = actions.create_list(workspace, "News")
    offers = actions.create_list(workspace, "Offers")
    secret = actions.create_list(workspace, "Secret VIP list")  # the contact never had it
    contact = actions.create_contact(workspace, "reader@example.net", lists=[news, offers])
    product = create_category(workspace, "Product news")
    surveys = create_category(workspace, "Survey results")
    subscribe_category(contact, product)
    return {
        "contact": contact,
        "news": news,
        "offers": offers,
        "secret": secret,
        "product": product,
        "surveys": surveys,
    }


def _statuses(contact) -> dict[str, str]:
    return dict(Subscription.objects.filter(contact=contact).values_list("contact_list__name", "status"))


def _state(contact) -> list[object]:
    return [
        list(Subscription.objects.order_by("pk").values()),
        list(ContactTopic.objects.order_by("pk").values()),
        list(ConsentRecord.objects.order_by("pk").values()),
        list(Suppression.objects.order_by("pk").values()),
        list(type(contact).objects.order_by("pk").values()),
    ]


def test_tokens_round_trip_and_reject_tampering(org, workspace, setup):
    contact = setup["contact"]
    token = make_token(contact)
    assert contact_for_token(token).pk == contact.pk
    other_workspace = Workspace.objects.create(organization=org, name="Other")
    other = actions.create_contact(other_workspace, "reader@example.net")
    payload, signature = token.split(".")
    other_payload = make_token(other).split(".")[0]
    for bad in [
        f"{other_payload}.{signature}",  # another workspace's contact under this signature
        f"{payload}.{'0' * 32}",
        token[:-1] + ("0" if token[-1] != "0" else "1"),
        token + "0",
        "bm9wZQ." + "a" * 32,
        "",
    ]:
        with pytest.raises(InvalidToken):
            contact_for_token(bad)
    # The address changed: the old link no longer speaks for the contact.
    actions.update_contact(contact, {"email": "moved@example.net"})
    with pytest.raises(InvalidToken):
        contact_for_token(token)
    assert contact_for_token(make_token(contact)).pk == contact.pk


def test_it_offers_only_the_lists_the_contact_has_or_had(setup):
    contact = setup["contact"]
    actions.unsubscribe(contact, setup["offers"])
    names = [(c.contact_list.name, c.chosen) for c in preferences.list_choices(contact)]
    assert names == [("News", True), ("Offers", False)]


def test_saving_changes_lists_categories_and_language_through_the_ledger(setup):
    contact = setup["contact"]
    changed = preferences.save_preferences(
        contact,
        lists=[str(setup["offers"].pk)],
        categories=[str(setup["surveys"].pk)],
        language="sv",
        ip=IP,
    )
    assert changed is True
    contact.refresh_from_db()
    assert contact.language == "sv"
    assert _statuses(contact) == {"News": "unsubscribed", "Offers": "subscribed"}
    assert categories_of(contact) == [setup["surveys"]]
    new = ConsentRecord.objects.filter(source="preferences").order_by("id")
    assert [(r.action, r.list_name, r.topic_name, r.ip) for r in new] == [
        ("unsubscribe", "News", "", IP),
        ("unsubscribe", "", "Product news", IP),
        ("subscribe", "", "Survey results", IP),
    ]
    # The same again changes and records nothing.
    before = _state(contact)
    again = preferences.save_preferences(
        contact, lists=[setup["offers"].pk], categories=[setup["surveys"].pk], language="sv", ip=IP
    )
    assert again is False
    assert _state(contact) == before


@pytest.mark.parametrize(
    ("field", "lists", "categories", "language"),
    [
        ("lists", ["secret"], [], ""),
        ("lists", ["x"], [], ""),
        ("categories", [], ["foreign"], ""),
        ("language", [], [], "de"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(org, setup, field, lists, categories, language):
    contact = setup["contact"]
    foreign = create_category(Workspace.objects.create(organization=org, name="Other"), "Elsewhere")
    ids = {"secret": setup["secret"].pk, "foreign": foreign.pk, "x": "x"}
    before = _state(contact)
    with pytest.raises(InvalidInput) as info:
        preferences.save_preferences(
            contact, lists=[ids[v] for v in lists], categories=[ids[v] for v in categories], language=language, ip=IP
        )
    assert set(info.value.as_dict()) == {field}
    assert _state(contact) == before


def test_subscribing_again_to_a_double_opt_in_list_asks_for_confirmation(workspace, setup):
    contact = setup["contact"]
    weekly = actions.create_list(workspace, "Weekly", double_opt_in=True)
    actions.subscribe(contact, weekly)
    doubleoptin.confirm(Subscription.objects.get(contact_list=weekly), actions.Consent())
    actions.unsubscribe(contact, weekly)
    Message.objects.all().delete()
    preferences.save_preferences(
        contact, lists=[setup["news"].pk, setup["offers"].pk, weekly.pk], categories=[setup["product"].pk], language=""
    )
    assert _statuses(contact)["Weekly"] == SubscriptionStatus.PENDING
    (message,) = Message.objects.all()
    assert message.category == "system" and "/c/" in message.text_body


def test_unsubscribing_from_everything(workspace, setup):
    contact = setup["contact"]
    assert preferences.unsubscribe_from_everything(contact, ip=IP) is True
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    assert set(_statuses(contact).values()) == {"unsubscribed"}
    assert not ContactTopic.objects.filter(contact=contact).exists()
    suppression = Suppression.objects.get(workspace=workspace, email="reader@example.net")
    assert (suppression.reason, suppression.source) == ("unsubscribe", "preferences")
    assert SuppressionAudit.objects.filter(source="preferences", action="add").count() == 1
    rows = ConsentRecord.objects.filter(source="preferences").order_by("id")
    assert [(r.action, r.list_name, r.topic_name, r.ip) for r in rows] == [
        ("unsubscribe", "News", "", IP),
        ("unsubscribe", "Offers", "", IP),
        ("unsubscribe", "", "Product news", IP),
        ("unsubscribe", "", "", IP),
    ]
    assert preferences.unsubscribed_from_everything(contact)
    before = _state(contact)
    assert preferences.unsubscribe_from_everything(contact, ip=IP) is False
    assert _state(contact) == before


def test_choosing_something_again_lifts_the_unsubscribe(workspace, setup):
    contact = setup["contact"]
    preferences.unsubscribe_from_everything(contact, ip=IP)
    preferences.save_preferences(contact, lists=[setup["news"].pk], categories=[], language="", ip=IP)
    contact.refresh_from_db()
    assert contact.status == ContactStatus.ACTIVE
    assert not Suppression.objects.filter(workspace=workspace).exists()
    assert SuppressionAudit.objects.filter(action="remove", source="preferences").count() == 1
    assert _statuses(contact)["News"] == "subscribed"


def test_a_manual_suppression_is_not_lifted(workspace, setup):
    contact = setup["contact"]
    suppressions.add_suppression(workspace, contact.email, "manual")
    actions.unsubscribe(contact, setup["news"])
    preferences.save_preferences(contact, lists=[setup["news"].pk], categories=[], language="", ip=IP)
    assert Suppression.objects.get(workspace=workspace).reason == "manual"


def test_templates_of_bulk_mail_get_both_links(workspace, setup, settings):
    contact = setup["contact"]
    links = preferences.template_links(contact)
    assert links["preferences_url"] == f"{settings.OPENESP_BASE_URL}/p/{make_token(contact)}/"
    assert contact_for_token(links["preferences_url"].rsplit("/", 2)[1]).pk == contact.pk
    assert links["unsubscribe_url"].startswith(f"{settings.OPENESP_BASE_URL}/u/")

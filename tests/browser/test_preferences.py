"""The preference page and the double opt-in link in headless Chromium, in English and Swedish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions, categories
from openesp.audience.models import ConsentRecord, ContactStatus, Subscription, SubscriptionStatus, Suppression
from openesp.audience.preferences import make_token
from openesp.messaging.models import Message

SCREENSHOTS = "/tmp"


@pytest.fixture
def shop(transactional_db):
    org = Organization.objects.create(name="Acme")
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    news = actions.create_list(workspace, "News")
    offers = actions.create_list(workspace, "Offers")
    actions.create_list(workspace, "Secret VIP list")
    product = categories.create_category(workspace, "Product news", description="New features, monthly")
    surveys = categories.create_category(workspace, "Survey results")
    return {"workspace": workspace, "news": news, "offers": offers, "product": product, "surveys": surveys}


@pytest.mark.parametrize(
    ("locale", "language", "texts"),
    [
        ("en-US", "", {"title": "Your e-mail preferences", "saved": "Your preferences are saved."}),
        ("sv-SE", "sv", {"title": "Dina e-postinställningar", "saved": "Dina inställningar är sparade."}),
    ],
)
def test_a_recipient_changes_their_preferences(live_server, new_page, shop, locale, language, texts):
    contact = actions.create_contact(
        shop["workspace"], "reader@example.net", language=language, lists=[shop["news"], shop["offers"]]
    )
    categories.subscribe_category(contact, shop["product"])
    page = new_page(locale)
    page.goto(f"{live_server.url}/p/{make_token(contact)}/")
    expect(page.locator("h1")).to_have_text(texts["title"])
    expect(page.get_by_test_id("pref-lists").locator("label")).to_have_count(2)  # never the VIP list
    expect(page.get_by_test_id(f"category-{shop['product'].pk}")).to_be_checked()
    page.screenshot(path=f"{SCREENSHOTS}/openesp-preferences-{locale}.png", full_page=True)

    page.get_by_test_id(f"category-{shop['product'].pk}").uncheck()
    page.get_by_test_id(f"category-{shop['surveys'].pk}").check()
    page.get_by_test_id(f"list-{shop['offers'].pk}").uncheck()
    page.get_by_test_id("language").select_option("sv")
    page.get_by_test_id("save-preferences").click()
    expect(page.get_by_test_id("preferences-saved")).to_have_text("Dina inställningar är sparade.")
    contact.refresh_from_db()
    assert contact.language == "sv"
    assert categories.categories_of(contact) == [shop["surveys"]]
    statuses = dict(Subscription.objects.filter(contact=contact).values_list("contact_list__name", "status"))
    assert statuses == {"News": "subscribed", "Offers": "unsubscribed"}
    rows = ConsentRecord.objects.filter(contact=contact, source="preferences")
    assert rows.count() == 3 and set(rows.values_list("ip", flat=True)) == {"127.0.0.1"}

    page.get_by_test_id("unsubscribe-all").click()
    expect(page.get_by_test_id("preferences-unsubscribed")).to_be_visible()
    expect(page.get_by_test_id(f"list-{shop['news'].pk}")).not_to_be_checked()
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    assert categories.categories_of(contact) == []
    assert Suppression.objects.get(email="reader@example.net").reason == "unsubscribe"


def test_one_click_on_the_double_opt_in_link_confirms(live_server, new_page, shop):
    weekly = actions.create_list(shop["workspace"], "Weekly", double_opt_in=True)
    contact = actions.create_contact(shop["workspace"], "sven@example.se", language="sv", lists=[weekly])
    (message,) = Message.objects.all()
    match = re.search(r"/c/\S+/", message.text_body)
    assert match
    page = new_page("en-US")
    page.goto(live_server.url + match.group(0))
    # The page's script posts the confirmation at once: no further click.
    expect(page.get_by_test_id("confirm-result")).to_have_attribute("data-outcome", "confirmed")
    expect(page.locator("h1")).to_have_text("Prenumerationen är bekräftad")
    subscription = Subscription.objects.get(contact=contact)
    assert subscription.status == SubscriptionStatus.SUBSCRIBED
    record = ConsentRecord.objects.get(contact=contact, action="confirm")
    assert (record.source, record.ip) == ("double_opt_in", "127.0.0.1")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-double-opt-in.png", full_page=True)


def test_without_scripts_the_button_confirms(live_server, browser, shop):
    weekly = actions.create_list(shop["workspace"], "Weekly", double_opt_in=True)
    contact = actions.create_contact(shop["workspace"], "ann@example.org", lists=[weekly])
    match = re.search(r"/c/\S+/", Message.objects.get().text_body)
    assert match
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + match.group(0))
        expect(page.get_by_test_id("confirm-question")).to_be_visible()
        assert Subscription.objects.get(contact=contact).status == SubscriptionStatus.PENDING
        page.get_by_test_id("confirm-button").click()
        expect(page.get_by_test_id("confirm-result")).to_have_attribute("data-outcome", "confirmed")
    finally:
        context.close()
    assert Subscription.objects.get(contact=contact).status == SubscriptionStatus.SUBSCRIBED


def test_an_owner_manages_categories(live_server, new_page, shop):
    password = "correct horse battery staple"
    ada = User.objects.create_user("ada@example.org", password, name="Ada", email_verified=True, language="sv")
    Membership.objects.create(organization=shop["workspace"].organization, user=ada, role=Role.OWNER)
    contact = actions.create_contact(shop["workspace"], "reader@example.net")
    categories.subscribe_category(contact, shop["product"])
    page = new_page("sv-SE")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", password)
    page.get_by_test_id("login-submit").click()
    page.goto(f"{live_server.url}/workspaces/{shop['workspace'].pk}/categories/")
    expect(page.locator("h1")).to_have_text("Kategorier")
    expect(page.get_by_test_id(f"subscribers-{shop['product'].pk}")).to_have_text("1")
    page.fill("#id_name", "Events")
    page.get_by_test_id("create-category").click()
    expect(page.get_by_test_id("category-table").locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="Events").click()
    page.fill("#id_name", "Events and webinars")
    page.get_by_test_id("save-category").click()
    expect(page.get_by_test_id("category-table")).to_contain_text("Events and webinars")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-categories.png", full_page=True)
    assert sorted(t.name for t in shop["workspace"].topics.all()) == [
        "Events and webinars",
        "Product news",
        "Survey results",
    ]

"""The categories pages of a workspace, and the public preference page over plain HTTP."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Membership, Role
from openesp.audience import actions, categories
from openesp.audience.models import ConsentRecord, ContactStatus, Subscription, Topic
from openesp.audience.preferences import make_token
from openesp.audience.unsubscribe import make_token as unsubscribe_token
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db


# --- the categories of a workspace -------------------------------------------------------------


def test_alice_creates_renames_and_deletes_a_category(as_alice, workspace):
    url = reverse("ws-categories", args=[workspace.pk])
    page = as_alice.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="no-categories"' in html and 'data-testid="ws-tabs"' in html and url in html

    created = as_alice.post(url, {"name": "Product news", "description": "Monthly"})
    assert created.status_code == 302
    news = Topic.objects.get(workspace=workspace)
    contact = actions.create_contact(workspace, "ann@example.com")
    categories.subscribe_category(contact, news)
    html = as_alice.get(url).content.decode()
    assert "Product news" in html and re.search(rf'data-testid="subscribers-{news.pk}">1<', html)

    duplicate = as_alice.post(url, {"name": "Product news"})
    assert duplicate.status_code == 200 and field_error(duplicate.content.decode(), "name")
    assert Topic.objects.count() == 1

    detail = reverse("ws-category", args=[workspace.pk, news.pk])
    assert "1 contact is subscribed" in as_alice.get(detail).content.decode()
    assert as_alice.post(detail, {"name": "Releases", "description": ""}).status_code == 302
    news.refresh_from_db()
    assert (news.name, news.description) == ("Releases", "")
    blank = as_alice.post(detail, {"name": ""})
    assert field_error(blank.content.decode(), "name")

    assert as_alice.post(reverse("ws-category-delete", args=[workspace.pk, news.pk])).status_code == 302
    assert not Topic.objects.exists()


def test_the_page_is_in_swedish(alice, as_alice, workspace):
    alice.language = "sv"
    alice.save()
    html = as_alice.get(reverse("ws-categories", args=[workspace.pk])).content.decode()
    assert "Inga kategorier ännu." in html and "Skapa en kategori" in html


def test_viewers_see_but_do_not_change(bob, as_bob, workspace):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    news = categories.create_category(workspace, "News")
    url = reverse("ws-categories", args=[workspace.pk])
    html = as_bob.get(url).content.decode()
    assert "News" in html and 'data-testid="create-category"' not in html
    assert as_bob.post(url, {"name": "Mine"}).status_code == 403
    assert as_bob.post(reverse("ws-category", args=[workspace.pk, news.pk]), {"name": "Mine"}).status_code == 403
    assert as_bob.post(reverse("ws-category-delete", args=[workspace.pk, news.pk])).status_code == 403
    assert list(Topic.objects.values_list("name", flat=True)) == ["News"]


def test_a_category_of_another_workspace_is_404(as_alice, org, workspace):
    other = org.workspaces.create(name="Other")
    news = categories.create_category(other, "News")
    assert as_alice.get(reverse("ws-category", args=[workspace.pk, news.pk])).status_code == 404
    assert as_alice.post(reverse("ws-category-delete", args=[workspace.pk, news.pk])).status_code == 404
    assert Topic.objects.filter(pk=news.pk).exists()


# --- the public preference page ----------------------------------------------------------------


@pytest.fixture
def reader(workspace):
    news = actions.create_list(workspace, "News")
    actions.create_list(workspace, "Secret VIP list")
    contact = actions.create_contact(workspace, "reader@example.net", lists=[news])
    categories.create_category(workspace, "Product news")
    return contact


def _csrf(client: Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match
    return match.group(1)


def test_the_page_shows_only_the_contacts_lists(reader):
    html = Client().get(f"/p/{make_token(reader)}/").content.decode()
    assert "News" in html and "Product news" in html
    assert "Secret VIP list" not in html


def test_saving_needs_the_csrf_token_and_records_the_ip(reader):
    url = f"/p/{make_token(reader)}/"
    client = Client(enforce_csrf_checks=True)
    news = Subscription.objects.get(contact=reader)
    topic = Topic.objects.get()
    refused = client.post(url, {"categories": [topic.pk], "language": "sv"})
    assert refused.status_code == 403
    token = _csrf(client, url)
    saved = client.post(
        url, {"csrfmiddlewaretoken": token, "categories": [topic.pk], "language": "sv"}, REMOTE_ADDR="203.0.113.5"
    )
    assert saved.status_code == 302 and saved["Location"].endswith("?done=saved")
    reader.refresh_from_db()
    news.refresh_from_db()
    assert (reader.language, news.status) == ("sv", "unsubscribed")
    assert categories.categories_of(reader) == [topic]
    assert set(ConsentRecord.objects.filter(source="preferences").values_list("ip", flat=True)) == {"203.0.113.5"}
    html = client.get(saved["Location"]).content.decode()
    assert "Dina inställningar är sparade." in html  # now in the contact's language


def test_bad_input_shows_the_field_and_changes_nothing(reader):
    url = f"/p/{make_token(reader)}/"
    response = Client().post(url, {"lists": ["999999"], "language": "xx"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "lists: names a list this link does not manage" in html and "language:" in html
    assert Subscription.objects.get(contact=reader).status == "subscribed"
    assert not ConsentRecord.objects.filter(source="preferences").exists()


def test_unsubscribing_from_everything(reader):
    url = f"/p/{make_token(reader)}/"
    response = Client().post(url, {"action": "unsubscribe-all"})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.status == ContactStatus.UNSUBSCRIBED
    assert 'data-testid="preferences-unsubscribed"' in Client().get(response["Location"]).content.decode()


def test_the_page_follows_the_contact_or_the_browser_language(workspace, reader):
    url = f"/p/{make_token(reader)}/"
    assert "Dina e-postinställningar" in Client().get(url, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Your e-mail preferences" in Client().get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    actions.update_contact(reader, {"language": "sv"})
    assert "Dina e-postinställningar" in Client().get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_a_bad_link_is_404_and_private(reader):
    token = make_token(reader)
    assert Client().get(f"/p/{token[:-1]}0/" if token[-1] != "0" else f"/p/{token[:-1]}1/").status_code == 404
    page = Client().get(f"/p/{token}/")
    assert (page["Referrer-Policy"], page["Cache-Control"], page["X-Robots-Tag"]) == (
        "same-origin",
        "no-store",
        "noindex",
    )


def test_the_unsubscribe_pages_do_not_hand_out_the_preference_link(workspace, reader):
    # The unsubscribe link travels in a header that mailbox providers, gateways and scanners all
    # see; the preference link can subscribe again and lift the suppression, so an unsubscribe
    # link must not lead to it.
    path = f"/u/{unsubscribe_token(workspace.pk, reader.email)}/"
    link = f"/p/{make_token(reader)}/"
    for page in (Client().get(path), Client().post(path)):
        html = page.content.decode()
        assert link not in html
        assert "/p/" not in html


def test_a_token_naming_a_non_ascii_digit_is_not_found_not_a_crash():
    # "²".isdigit() is true and int("²") raises: a forged token must be a 404 like any other.
    payload = base64.urlsafe_b64encode("²".encode()).decode().rstrip("=")
    assert Client().get(f"/p/{payload}.{'0' * 32}/").status_code == 404

"""The contact, list and suppression pages of a workspace: what they show and what they change."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions, suppressions
from openesp.audience.models import (
    ConsentRecord,
    Contact,
    ContactList,
    ContactStatus,
    ContactTopic,
    Subscription,
    Suppression,
    SuppressionAudit,
    Topic,
)
from openesp.messaging.models import Message
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _get(client: Client, url: str, **params: Any) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _shown(html: str) -> list[str]:
    """The addresses of the contact table's rows, top to bottom."""
    return re.findall(r'<tr data-contact="([^"]+)"', html)


def _flash(response: Any) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


@pytest.fixture
def newsletter(workspace: Workspace) -> ContactList:
    return actions.create_list(workspace, "Newsletter")


@pytest.fixture
def confirmed(workspace: Workspace) -> ContactList:
    return actions.create_list(workspace, "Confirmed", double_opt_in=True)


@pytest.fixture
def ann(workspace: Workspace, newsletter: ContactList) -> Contact:
    return actions.create_contact(
        workspace, "ann@example.com", name="Ann", attributes={"country": "SE", "age": 42}, lists=[newsletter]
    )


# --- the contact list -----------------------------------------------------------------------------


def test_it_lists_and_filters_contacts(as_alice, workspace, newsletter, ann):
    actions.create_contact(workspace, "bo@example.org", attributes={"country": "NO", "age": "42"})
    gone = actions.create_contact(workspace, "carl@example.com", attributes={"vip": True})
    actions.update_contact(gone, {"status": ContactStatus.BOUNCED})
    url = _url("ws-contacts", workspace.pk)

    html = _get(as_alice, url)
    assert _shown(html) == ["ann@example.com", "bo@example.org", "carl@example.com"]
    assert 'data-testid="ws-tabs"' in html
    assert _shown(_get(as_alice, url, q="EXAMPLE.com")) == ["ann@example.com", "carl@example.com"]
    assert _shown(_get(as_alice, url, list=newsletter.pk)) == ["ann@example.com"]
    assert _shown(_get(as_alice, url, status="bounced")) == ["carl@example.com"]
    assert _shown(_get(as_alice, url, attribute="country=SE")) == ["ann@example.com"]
    # A filter is text; it finds the number 42 as well as the string "42", and booleans.
    assert _shown(_get(as_alice, url, attribute="age=42")) == ["ann@example.com", "bo@example.org"]
    assert _shown(_get(as_alice, url, attribute="vip=true")) == ["carl@example.com"]
    assert _shown(_get(as_alice, url, attribute="vip=")) == ["carl@example.com"]  # has the attribute at all
    assert _shown(_get(as_alice, url, attribute="country=SE", q="bo")) == []
    assert "No contacts match these filters." in _get(as_alice, url, q="nobody")


def test_a_bad_filter_is_shown_next_to_its_field_and_the_others_still_apply(as_alice, workspace, ann):
    actions.create_contact(workspace, "bo@example.org")
    url = _url("ws-contacts", workspace.pk)
    html = _get(as_alice, url, attribute="country", q="ann")
    assert field_error(html, "attribute")
    assert "name=value" in html
    assert _shown(html) == ["ann@example.com"]
    html = _get(as_alice, url, attribute="1bad=x", status="nonsense")
    assert field_error(html, "attribute") and field_error(html, "status")
    assert _shown(html) == ["ann@example.com", "bo@example.org"]


def test_it_pages_the_contacts(as_alice, workspace):
    Contact.objects.bulk_create(
        Contact(workspace=workspace, email=f"p{i:02}@example.com", email_key=f"p{i:02}@example.com") for i in range(55)
    )
    url = _url("ws-contacts", workspace.pk)
    first = _get(as_alice, url)
    assert len(_shown(first)) == 50 and "Page 1 of 2" in first
    assert _shown(_get(as_alice, url, page=2)) == [f"p{i}@example.com" for i in range(50, 55)]


# --- adding a contact -----------------------------------------------------------------------------


def _new(client: Client, workspace: Workspace, **data: Any) -> Any:
    return client.post(_url("ws-contact-new", workspace.pk), data)


def test_it_adds_a_contact_with_typed_attributes_and_lists(as_alice, alice, workspace, newsletter, confirmed):
    assert "Add a contact" in _get(as_alice, _url("ws-contact-new", workspace.pk))
    response = _new(
        as_alice,
        workspace,
        email="Dee@Example.COM",
        name="Dee",
        language="sv",
        time_zone="Europe/Stockholm",
        attr_key=["country", "age", "vip", "zip", ""],
        attr_type=["text", "number", "boolean", "text", "text"],
        attr_value=["SE", "42", "yes", "042", ""],
        lists=[newsletter.pk, confirmed.pk],
    )
    contact = Contact.objects.get(workspace=workspace)
    assert response.status_code == 302 and response["Location"] == _url("ws-contact", workspace.pk, contact.pk)
    assert (contact.email, contact.name, contact.language, contact.time_zone) == (
        "Dee@example.com", "Dee", "sv", "Europe/Stockholm"
    )  # fmt: skip
    assert contact.attributes == {"country": "SE", "age": 42, "vip": True, "zip": "042"}
    statuses = dict(Subscription.objects.filter(contact=contact).values_list("contact_list__name", "status"))
    assert statuses == {"Newsletter": "subscribed", "Confirmed": "pending"}
    record = ConsentRecord.objects.filter(contact=contact).first()
    assert record is not None and (record.source, record.actor) == ("admin", alice)


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-address"}, "email", "@-sign"),
        ({"language": "english please"}, "language", "language tag"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA time zone"),
        ({"attr_key": ["age"], "attr_type": ["number"], "attr_value": ["old"]}, "attributes", "age: is not a number"),
        ({"attr_key": ["9lives"], "attr_type": ["text"], "attr_value": ["x"]}, "attributes", "9lives: names are"),
        ({"attr_key": [""], "attr_type": ["text"], "attr_value": ["orphan"]}, "attributes", "needs a name"),
        ({"attr_key": ["a", "a"], "attr_type": ["text", "text"], "attr_value": ["1", "2"]}, "attributes", "twice"),
        (
            {"attr_key": ["Tier", "tier"], "attr_type": ["text", "text"], "attr_value": ["1", "2"]},
            "attributes",
            "twice",
        ),
        ({"attr_key": ["ok"], "attr_type": ["boolean"], "attr_value": ["maybe"]}, "attributes", "true or false"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_adds_nothing(as_alice, workspace, newsletter, data, field, reason):
    response = _new(as_alice, workspace, **{"email": "eve@example.com", "lists": [newsletter.pk], **data})
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error(html, field), html
    assert reason in html
    assert 'value="eve@example.com"' in html or data.get("email") is not None  # what was typed stays
    assert not Contact.objects.exists()
    assert not Subscription.objects.exists()


def test_an_address_taken_already_links_to_its_contact(as_alice, workspace, ann):
    response = _new(as_alice, workspace, email="ANN@example.com")
    html = response.content.decode()
    assert response.status_code == 400 and field_error(html, "email")
    assert _url("ws-contact", workspace.pk, ann.pk) in html
    assert Contact.objects.count() == 1


# --- the contact page -----------------------------------------------------------------------------


def test_the_contact_page_shows_everything_about_the_contact(as_alice, workspace, newsletter, ann):
    suppressions.add_suppression(workspace, "ann@example.com", "complaint")
    suppressions.add_suppression(None, "ann@example.com", "hard_bounce")
    message = Message.objects.create(
        organization=workspace.organization, workspace=workspace, from_email="shop@acme.example",
        to_email="Ann@Example.com", subject="Your order",
    )  # fmt: skip
    html = _get(as_alice, _url("ws-contact", workspace.pk, ann.pk))
    assert 'value="ann@example.com"' in html and 'value="Ann"' in html
    assert 'value="country"' in html and 'value="SE"' in html
    assert 'data-list="Newsletter"' in html and "Subscribed" in html
    ledger = html[html.index('data-testid="ledger"') :]
    assert 'data-action="subscribe"' in ledger and "Newsletter" in ledger
    assert "Complaint" in html and "suppressed for all workspaces" in html
    assert _url("ws-message", workspace.pk, message.public_id) in html
    assert "Your order" in html
    assert _url("ws-contact-export", workspace.pk, ann.pk) in html
    assert _url("ws-contact-erase", workspace.pk, ann.pk) in html


def test_the_contact_page_shows_its_categories(as_alice, workspace, ann):
    news = Topic.objects.create(workspace=workspace, name="Product news")
    Topic.objects.create(workspace=workspace, name="Survey results")
    ContactTopic.objects.create(contact=ann, topic=news)
    html = _get(as_alice, _url("ws-contact", workspace.pk, ann.pk))
    box = html[html.index('data-testid="contact-categories"') :]
    box = box[: box.index("</p>")]
    assert "Product news" in box and "Survey results" not in box


def test_it_saves_the_profile_and_attributes(as_alice, workspace, ann):
    response = as_alice.post(
        _url("ws-contact", workspace.pk, ann.pk),
        {
            "email": "ann@example.com",
            "name": "Ann Andersson",
            "language": "en",
            "time_zone": "",
            "status": "active",
            # "age" is no longer in the form: it is removed; "country" changes; "plan" is new.
            "attr_key": ["country", "plan"],
            "attr_type": ["text", "text"],
            "attr_value": ["NO", "pro"],
        },
    )
    assert response.status_code == 302
    ann.refresh_from_db()
    assert (ann.name, ann.language) == ("Ann Andersson", "en")
    assert ann.attributes == {"country": "NO", "plan": "pro"}


def test_names_compare_folded_in_the_filter_and_the_form(as_alice, workspace, ann):
    # Attribute names are stored as first written, compared case-folded (decision 009).
    url = _url("ws-contacts", workspace.pk)
    assert _shown(_get(as_alice, url, attribute="COUNTRY=SE")) == ["ann@example.com"]
    response = as_alice.post(
        _url("ws-contact", workspace.pk, ann.pk),
        {
            "email": "ann@example.com", "status": "active",
            # "Country" is "country" retyped: changed, not removed; "AGE" is gone: removed.
            "attr_key": ["Country", "Plan"], "attr_type": ["text", "text"], "attr_value": ["NO", "pro"],
        },
    )  # fmt: skip
    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.attributes == {"country": "NO", "Plan": "pro"}
    other = _new(as_alice, workspace, email="bo@example.com", attr_key=["PLAN"], attr_type=["text"], attr_value=["x"])
    assert other.status_code == 302
    assert Contact.objects.get(email="bo@example.com").attributes == {"Plan": "x"}


def test_saving_an_old_page_keeps_a_bounce_recorded_since(as_alice, workspace, ann):
    html = _get(as_alice, _url("ws-contact", workspace.pk, ann.pk))
    assert 'name="status_shown" value="active"' in html
    ann.status = ContactStatus.BOUNCED  # the worker, while the page was open
    ann.save()
    data = {"email": "ann@example.com", "name": "Ann A", "status": "active", "status_shown": "active"}
    assert as_alice.post(_url("ws-contact", workspace.pk, ann.pk), data).status_code == 302
    ann.refresh_from_db()
    assert (ann.name, ann.status) == ("Ann A", ContactStatus.BOUNCED)
    # Choosing a status on purpose changes it.
    data.update(status="active", status_shown="bounced")
    as_alice.post(_url("ws-contact", workspace.pk, ann.pk), data)
    ann.refresh_from_db()
    assert ann.status == ContactStatus.ACTIVE


def test_a_bad_edit_changes_nothing(as_alice, workspace, ann):
    actions.create_contact(workspace, "bo@example.org")
    before = Contact.objects.values().get(pk=ann.pk)
    url = _url("ws-contact", workspace.pk, ann.pk)
    base = {"email": "ann@example.com", "name": "New name", "status": "active",
            "attr_key": ["country"], "attr_type": ["text"], "attr_value": ["DK"]}  # fmt: skip
    for change, field in [
        ({"email": "bo@example.org"}, "email"),
        ({"time_zone": "Nowhere/Here"}, "time_zone"),
        ({"status": "gone"}, "status"),
        ({"attr_type": ["number"]}, "attributes"),
    ]:
        response = as_alice.post(url, {**base, **change})
        assert response.status_code == 400
        assert field_error(response.content.decode(), field), field
        assert Contact.objects.values().get(pk=ann.pk) == before


def test_subscribe_and_unsubscribe_from_the_contact_page(as_alice, alice, workspace, newsletter, confirmed, ann):
    url = _url("ws-contact-subscription", workspace.pk, ann.pk)
    response = as_alice.post(url, {"list": confirmed.pk, "action": "subscribe"})
    assert response.status_code == 302
    assert Subscription.objects.get(contact=ann, contact_list=confirmed).status == "pending"
    assert "pending until confirmed" in _flash(response)[-1]
    as_alice.post(url, {"list": newsletter.pk, "action": "unsubscribe"})
    assert Subscription.objects.get(contact=ann, contact_list=newsletter).status == "unsubscribed"
    html = _get(as_alice, _url("ws-contact", workspace.pk, ann.pk))
    assert "Pending confirmation" in html
    actions_in_ledger = list(ConsentRecord.objects.filter(contact=ann).order_by("id").values_list("action", "source"))
    assert actions_in_ledger == [("subscribe", "api"), ("subscribe", "admin"), ("unsubscribe", "admin")]
    # From the list's page, back to it.
    response = as_alice.post(url, {"list": confirmed.pk, "action": "unsubscribe", "back": "list"})
    assert response["Location"] == _url("ws-list", workspace.pk, confirmed.pk)


def test_resend_the_confirmation_of_a_pending_subscription(as_alice, workspace, newsletter, confirmed, ann):
    url = _url("ws-contact-subscription", workspace.pk, ann.pk)
    as_alice.post(url, {"list": confirmed.pk, "action": "subscribe"})
    mails = Message.objects.filter(workspace=workspace, to_email="ann@example.com", category="system")
    assert mails.count() == 1
    assert 'data-testid="resend"' in _get(as_alice, _url("ws-contact", workspace.pk, ann.pk))
    response = as_alice.post(url, {"list": confirmed.pk, "action": "resend"})
    assert "went out recently" in _flash(response)[-1]
    assert mails.count() == 1
    mails.update(created_at=timezone.now() - timedelta(days=1))
    response = as_alice.post(url, {"list": confirmed.pk, "action": "resend"})
    assert (
        "The confirmation mail to ann@example.com is queued — your organization has no email provider"
        in _flash(response)[-1]
    )
    assert mails.count() == 2
    response = as_alice.post(url, {"list": newsletter.pk, "action": "resend"})
    assert "no confirmation to wait for" in _flash(response)[-1]
    assert mails.count() == 2


def test_a_list_of_another_workspace_is_404(as_alice, org, workspace, ann):
    other = actions.create_list(Workspace.objects.create(organization=org, name="Sales"), "Theirs")
    url = _url("ws-contact-subscription", workspace.pk, ann.pk)
    assert as_alice.post(url, {"list": other.pk, "action": "subscribe"}).status_code == 404
    assert as_alice.post(url, {"list": "x", "action": "subscribe"}).status_code == 404
    assert not Subscription.objects.filter(contact_list=other).exists()


def test_the_gdpr_download_holds_everything(as_alice, workspace, ann):
    response = as_alice.get(_url("ws-contact-export", workspace.pk, ann.pk))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="contact-{ann.pk}.json"'
    data = json.loads(response.content)
    assert data["contact"]["email"] == "ann@example.com"
    assert data["contact"]["attributes"] == {"country": "SE", "age": 42}
    assert [s["list"] for s in data["subscriptions"]] == ["Newsletter"]
    assert [r["action"] for r in data["consent_records"]] == ["subscribe"]


def test_erasing_asks_first(as_alice, alice, workspace, ann):
    suppressions.add_suppression(workspace, "ann@example.com")
    url = _url("ws-contact-erase", workspace.pk, ann.pk)
    html = _get(as_alice, url)
    assert "ann@example.com" in html and "cannot be undone" in html
    assert Contact.objects.filter(pk=ann.pk).exists()  # looking erases nothing
    response = as_alice.post(url)
    assert response.status_code == 302 and response["Location"] == _url("ws-contacts", workspace.pk)
    assert not Contact.objects.filter(pk=ann.pk).exists()
    tombstone = ConsentRecord.objects.get(workspace=workspace)
    assert (tombstone.action, tombstone.actor, tombstone.contact) == ("erase", alice, None)
    assert Suppression.objects.filter(workspace=workspace, email="ann@example.com").exists()


def test_export_csv_streams_every_contact_with_formulas_neutralised(as_alice, workspace, ann):
    actions.create_contact(workspace, "bo@example.org", name="=HYPERLINK(1)")
    response = as_alice.get(_url("ws-contacts-export", workspace.pk))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{workspace.pk}.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["email"], r["name"], r["lists"]) for r in rows] == [
        ("ann@example.com", "Ann", "Newsletter"),
        ("bo@example.org", "'=HYPERLINK(1)", ""),
    ]


# --- lists ----------------------------------------------------------------------------------------


def test_it_makes_lists_and_shows_their_counts(as_alice, workspace, newsletter, ann):
    response = as_alice.post(_url("ws-lists", workspace.pk), {"name": " Weekly ", "double_opt_in": "on"})
    weekly = ContactList.objects.get(name="Weekly")
    assert response["Location"] == _url("ws-list", workspace.pk, weekly.pk)
    assert weekly.double_opt_in
    actions.subscribe(ann, weekly)
    html = _get(as_alice, _url("ws-lists", workspace.pk))
    row = re.search(r'<tr data-list="Weekly">.*?</tr>', html, re.S)
    assert row is not None
    assert 'data-testid="count-subscribed">0<' in row.group(0) and 'data-testid="count-pending">1<' in row.group(0)
    assert "Double opt-in" in row.group(0)


@pytest.mark.parametrize(("name", "reason"), [("", "This field is required."), ("Newsletter", "has a list of this")])
def test_a_bad_list_name_is_refused(as_alice, workspace, newsletter, name, reason):
    response = as_alice.post(_url("ws-lists", workspace.pk), {"name": name})
    assert response.status_code == 400
    assert field_error(response.content.decode(), "name") and reason in response.content.decode()
    assert ContactList.objects.count() == 1


def test_rename_and_switch_double_opt_in(as_alice, workspace, newsletter, confirmed):
    url = _url("ws-list", workspace.pk, newsletter.pk)
    assert as_alice.post(url, {"name": "News", "double_opt_in": "on"}).status_code == 302
    newsletter.refresh_from_db()
    assert (newsletter.name, newsletter.double_opt_in) == ("News", True)
    response = as_alice.post(url, {"name": "Confirmed"})
    assert response.status_code == 400 and field_error(response.content.decode(), "name")
    newsletter.refresh_from_db()
    assert (newsletter.name, newsletter.double_opt_in) == ("News", True)


def test_the_list_page_shows_subscribers_by_status(as_alice, workspace, newsletter, ann):
    bo = actions.create_contact(workspace, "bo@example.org", lists=[newsletter])
    actions.unsubscribe(bo, newsletter)
    actions.create_contact(workspace, "not-on-it@example.org")
    url = _url("ws-list", workspace.pk, newsletter.pk)
    assert _shown(_get(as_alice, url)) == ["ann@example.com", "bo@example.org"]
    assert _shown(_get(as_alice, url, status="unsubscribed")) == ["bo@example.org"]
    assert "1 subscribed · 0 pending" in _get(as_alice, url)


def test_add_a_subscriber_by_address(as_alice, workspace, newsletter, confirmed, ann):
    url = _url("ws-list-subscribe", workspace.pk, confirmed.pk)
    assert as_alice.post(url, {"email": "new@example.net"}).status_code == 302
    assert as_alice.post(url, {"email": "ANN@example.com"}).status_code == 302
    statuses = dict(Subscription.objects.filter(contact_list=confirmed).values_list("contact__email", "status"))
    assert statuses == {"new@example.net": "pending", "ann@example.com": "pending"}
    response = as_alice.post(url, {"email": "nobody"})
    assert response.status_code == 400 and field_error(response.content.decode(), "email")
    assert Contact.objects.count() == 2


def test_deleting_a_list_asks_first_and_keeps_the_contacts(as_alice, workspace, newsletter, ann):
    url = _url("ws-list-delete", workspace.pk, newsletter.pk)
    html = _get(as_alice, url)
    assert "Newsletter" in html and "1 subscribed" in html
    assert ContactList.objects.filter(pk=newsletter.pk).exists()
    response = as_alice.post(url)
    assert response["Location"] == _url("ws-lists", workspace.pk)
    assert not ContactList.objects.filter(pk=newsletter.pk).exists()
    assert Contact.objects.filter(pk=ann.pk).exists()
    assert ConsentRecord.objects.get(contact=ann).list_name == "Newsletter"


# --- suppressions ---------------------------------------------------------------------------------


def test_suppressions_of_the_workspace_and_the_operator(as_alice, org, workspace):
    suppressions.add_suppression(workspace, "mine@example.com")
    suppressions.add_suppression(None, "everyone@example.com", "complaint")
    suppressions.add_suppression(Workspace.objects.create(organization=org, name="Sales"), "theirs@example.com")
    html = _get(as_alice, _url("ws-suppressions", workspace.pk))
    assert re.findall(r'data-email="([^"]+)"', html) == ["everyone@example.com", "mine@example.com"]
    operator_row = re.search(r'<tr data-email="everyone@example.com" data-global="1">.*?</tr>', html, re.S)
    assert operator_row is not None and "Operator" in operator_row.group(0)
    assert "remove-suppression" not in operator_row.group(0)  # only the operator lifts it
    assert html.count('data-testid="remove-suppression"') == 1
    searched = _get(as_alice, _url("ws-suppressions", workspace.pk), email="MINE")
    assert re.findall(r'data-email="([^"]+)"', searched) == ["mine@example.com"]


def test_add_a_suppression_with_audit(as_alice, alice, workspace):
    url = _url("ws-suppressions", workspace.pk)
    response = as_alice.post(url, {"email": "Gone@Example.com", "reason": "hard_bounce"})
    assert response.status_code == 302
    suppression = Suppression.objects.get(workspace=workspace)
    assert (suppression.email, suppression.reason, suppression.created_by) == ("gone@example.com", "hard_bounce", alice)
    audit = SuppressionAudit.objects.get()
    assert (audit.action, audit.source, audit.actor) == ("add", "admin", alice)
    response = as_alice.post(url, {"email": "gone@example.com", "reason": "manual"})
    assert "suppressed already (Hard bounce)" in _flash(response)[-1]
    assert SuppressionAudit.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [({"email": "nope", "reason": "manual"}, "email"), ({"email": "a@b.se", "reason": "x"}, "reason")],
)
def test_a_bad_suppression_is_refused(as_alice, workspace, data, field):
    response = as_alice.post(_url("ws-suppressions", workspace.pk), data)
    assert response.status_code == 400 and field_error(response.content.decode(), field)
    assert not Suppression.objects.exists() and not SuppressionAudit.objects.exists()


def test_removing_asks_first_and_is_audited(as_alice, alice, workspace):
    suppressions.add_suppression(workspace, "gone@example.com", "complaint")
    url = _url("ws-suppression-remove", workspace.pk)
    html = _get(as_alice, url, email="gone@example.com")
    assert "gone@example.com" in html and "Complaint" in html
    assert Suppression.objects.exists()
    assert as_alice.get(url, {"email": "other@example.com"}).status_code == 404
    response = as_alice.post(url, {"email": "gone@example.com"})
    assert response["Location"] == _url("ws-suppressions", workspace.pk)
    assert not Suppression.objects.exists()
    assert list(SuppressionAudit.objects.order_by("id").values_list("action", "reason", "actor")) == [
        ("add", "complaint", None),
        ("remove", "complaint", alice.pk),
    ]
    history = _get(as_alice, _url("ws-suppressions", workspace.pk), history="gone@example.com")
    box = history[history.index('data-testid="suppression-history"') :]
    assert box.index('data-action="remove"') < box.index('data-action="add"')  # newest first
    assert "Alice" in box


def test_the_operators_suppression_cannot_be_lifted_here(as_alice, workspace):
    suppressions.add_suppression(None, "everyone@example.com")
    response = as_alice.post(_url("ws-suppression-remove", workspace.pk), {"email": "everyone@example.com"})
    assert "only they can lift it" in _flash(response)[-1]
    assert Suppression.objects.filter(workspace__isnull=True).exists()
    assert (
        as_alice.get(_url("ws-suppression-remove", workspace.pk), {"email": "everyone@example.com"}).status_code == 404
    )


# --- viewers --------------------------------------------------------------------------------------


# Every button that changes something, by its data-testid.
BUTTONS = ["add-contact", "save-contact", "subscribe", "unsubscribe", "erase-contact", "create-list", "save-list",
           "delete-list", "add-subscriber", "add-suppression", "remove-suppression"]  # fmt: skip


@pytest.fixture
def viewer(org: Organization, workspace: Workspace) -> Client:
    dana = User.objects.create_user("dana@example.org", "x", name="Dana", email_verified=True)
    Membership.objects.create(organization=org, user=dana, role=Role.VIEWER).workspaces.add(workspace)
    client = Client()
    client.force_login(dana)
    return client


def test_viewers_see_but_cannot_change(viewer, workspace, newsletter, ann):
    suppressions.add_suppression(workspace, "gone@example.com")
    for url in [
        _url("ws-contacts", workspace.pk),
        _url("ws-contact", workspace.pk, ann.pk),
        _url("ws-lists", workspace.pk),
        _url("ws-list", workspace.pk, newsletter.pk),
        _url("ws-suppressions", workspace.pk),
    ]:
        html = _get(viewer, url)
        assert 'data-testid="read-only"' in html
        for button in BUTTONS:
            assert f'data-testid="{button}"' not in html, (url, button)
    assert _get(viewer, _url("ws-contact-export", workspace.pk, ann.pk))
    assert viewer.get(_url("ws-contacts-export", workspace.pk)).status_code == 200

    before = _state()
    for url, data in [
        (_url("ws-contact-new", workspace.pk), {"email": "new@example.com"}),
        (_url("ws-contact", workspace.pk, ann.pk), {"email": "ann@example.com", "name": "X", "status": "active"}),
        (_url("ws-contact-subscription", workspace.pk, ann.pk), {"list": newsletter.pk, "action": "unsubscribe"}),
        (_url("ws-contact-erase", workspace.pk, ann.pk), {}),
        (_url("ws-lists", workspace.pk), {"name": "Mine"}),
        (_url("ws-list", workspace.pk, newsletter.pk), {"name": "Renamed"}),
        (_url("ws-list-subscribe", workspace.pk, newsletter.pk), {"email": "new@example.com"}),
        (_url("ws-list-delete", workspace.pk, newsletter.pk), {}),
        (_url("ws-suppressions", workspace.pk), {"email": "x@example.com", "reason": "manual"}),
        (_url("ws-suppression-remove", workspace.pk), {"email": "gone@example.com"}),
    ]:
        response = viewer.post(url, data)
        assert response.status_code == 403, url
        assert "Viewers can look at the audience" in response.content.decode()
    assert _state() == before
    assert viewer.get(_url("ws-contact-erase", workspace.pk, ann.pk)).status_code == 403


def _state() -> list[Any]:
    return [
        list(Contact.objects.order_by("id").values()),
        list(ContactList.objects.order_by("id").values()),
        list(Subscription.objects.order_by("id").values()),
        list(Suppression.objects.order_by("id").values()),
        ConsentRecord.objects.count(),
    ]


# --- navigation and Swedish ------------------------------------------------------------------------


def test_the_side_menu_and_tabs_lead_to_the_audience_pages(as_alice, workspace, newsletter):
    html = _get(as_alice, _url("ws-list", workspace.pk, newsletter.pk))
    assert f'data-testid="nav-contacts-{workspace.pk}"' in html
    tabs = html[html.index('data-testid="ws-tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    for name in ["ws-contacts", "ws-lists", "ws-suppressions", "ws-messages"]:
        assert _url(name, workspace.pk) in tabs
    assert f'class="tab active" href="{_url("ws-lists", workspace.pk)}"' in tabs


def test_the_pages_speak_swedish(as_alice, workspace, newsletter, ann):
    sv = {"HTTP_ACCEPT_LANGUAGE": "sv"}
    html = as_alice.get(_url("ws-contacts", workspace.pk), **sv).content.decode()
    for text in ["Kontakter", "Lägg till en kontakt", "Exportera CSV", "Alla listor"]:
        assert text in html, text
    html = as_alice.get(_url("ws-contact", workspace.pk, ann.pk), **sv).content.decode()
    for text in ["Samtyckeshistorik", "Ladda ner allt (GDPR)", "Radera kontakten", "Avregistrera"]:
        assert text in html, text
    html = as_alice.get(_url("ws-lists", workspace.pk), **sv).content.decode()
    assert "Skapa en lista" in html and "Dubbel opt-in" in html
    html = as_alice.get(_url("ws-suppressions", workspace.pk), **sv).content.decode()
    assert "Spärra en adress" in html and ">Spärrar<" in html
    response = as_alice.post(_url("ws-contact-new", workspace.pk), {"email": "x@example.com", "language": "??"}, **sv)
    assert "måste vara en språkkod" in response.content.decode()

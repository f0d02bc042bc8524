"""Contacts, lists, subscriptions and suppressions through the API."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from openesp.accounts.models import Membership, Role, Workspace
from openesp.audience.models import ConsentRecord, Contact, Subscription, Suppression, SuppressionAudit
from openesp.delivery.worker import Worker
from openesp.messaging.models import Event, Message
from openesp.messaging.submit import parse_submission, submit
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts"
LISTS = "/api/v1/lists"
SUPPRESSIONS = "/api/v1/suppressions"


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def _contact(api, workspace, **body):
    return api.post(CONTACTS, {"email": "ann@example.com", "workspace": workspace.pk, **body})


def test_it_creates_a_contact_normalised_and_subscribed(alice_api, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    r = _contact(
        alice_api,
        workspace,
        email="Ann.Lee@EXAMPLE.com",
        name="Ann",
        language="sv",
        time_zone="Europe/Stockholm",
        attributes={"country": "SE", "age": 41, "vip": True, "since": "2024-05-01"},
        lists=[newsletter["id"]],
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["email"] == "Ann.Lee@example.com"
    assert body["attributes"] == {"country": "SE", "age": 41, "vip": True, "since": "2024-05-01"}
    assert body["lists"] == [{"list_id": newsletter["id"], "status": "subscribed"}]
    assert Contact.objects.get().email_key == "ann.lee@example.com"
    assert alice_api.get(f"{CONTACTS}/{body['id']}").json()["name"] == "Ann"


def test_it_names_the_field_at_fault(alice_api, workspace):
    cases = [
        ({"email": "not-an-address"}, "email"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"language": "english please"}, "language"),
        ({"attributes": {"address": {"city": "Lund"}}}, "attributes.address"),
        ({"attributes": {"tags": ["a", "b"]}}, "attributes.tags"),
    ]
    for body, field in cases:
        r = _contact(alice_api, workspace, **body)
        assert r.status_code == 422, body
        assert field in _fields(r), r.json()
    assert not Contact.objects.exists()


def test_it_refuses_a_list_of_another_workspace(alice_api, org, workspace):
    other = Workspace.objects.create(organization=org, name="Sales")
    foreign = alice_api.post(LISTS, {"name": "Leads", "workspace": other.pk}).json()
    r = _contact(alice_api, workspace, lists=[foreign["id"]])
    assert r.status_code == 422
    assert "lists" in _fields(r)
    assert not Contact.objects.exists()
    assert alice_api.get(CONTACTS, workspace=workspace.pk, list=foreign["id"]).status_code == 404


def test_it_keeps_addresses_unique_per_workspace(alice_api, org, workspace):
    first = _contact(alice_api, workspace).json()
    again = _contact(alice_api, workspace, email="ANN@example.com")
    assert again.status_code == 409
    assert again.json()["id"] == first["id"]
    other = Workspace.objects.create(organization=org, name="Sales")
    assert _contact(alice_api, other).status_code == 201


def test_it_lists_contacts_a_page_at_a_time_with_filters(alice_api, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    for i in range(5):
        _contact(alice_api, workspace, email=f"c{i}@example.com", lists=[newsletter["id"]] if i % 2 else [])
    alice_api.patch(f"{CONTACTS}/{Contact.objects.get(email='c4@example.com').pk}", {"status": "bounced"})
    seen, cursor = [], None
    while True:
        page = alice_api.get(CONTACTS, workspace=workspace.pk, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["email"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"c{i}@example.com" for i in range(5)]
    on_list = alice_api.get(CONTACTS, workspace=workspace.pk, list=newsletter["id"]).json()["items"]
    assert [c["email"] for c in on_list] == ["c1@example.com", "c3@example.com"]
    by_email = alice_api.get(CONTACTS, workspace=workspace.pk, email="C2@Example.com").json()["items"]
    assert [c["email"] for c in by_email] == ["c2@example.com"]
    bounced = alice_api.get(CONTACTS, workspace=workspace.pk, status="bounced").json()["items"]
    assert [c["email"] for c in bounced] == ["c4@example.com"]


def test_it_uses_a_workspace_keys_own_workspace(alice, workspace):
    api = api_for(alice, workspace=workspace)
    assert api.post(CONTACTS, {"email": "ann@example.com"}).status_code == 201
    assert api.get(CONTACTS).json()["items"][0]["workspace_id"] == workspace.pk
    personal = api_for(alice)
    r = personal.post(CONTACTS, {"email": "bo@example.com"})
    assert r.status_code == 422 and "workspace" in _fields(r)


def test_it_merges_attributes_on_patch(alice_api, workspace):
    contact = _contact(alice_api, workspace, attributes={"a": 1, "b": "x"}).json()
    r = alice_api.patch(f"{CONTACTS}/{contact['id']}", {"attributes": {"b": None, "c": False}, "name": "Ann"})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"a": 1, "c": False}
    r = alice_api.patch(f"{CONTACTS}/{contact['id']}", {"time_zone": "Nowhere/Land"})
    assert r.status_code == 422 and "time_zone" in _fields(r)


def test_it_leaves_a_double_opt_in_subscription_pending(alice_api, workspace):
    doi = alice_api.post(LISTS, {"name": "Weekly", "double_opt_in": True, "workspace": workspace.pk})
    assert doi.status_code == 201 and doi.json()["double_opt_in"] is True
    r = alice_api.post(f"{LISTS}/{doi.json()['id']}/subscribers", {"email": "ann@example.com"})
    assert r.status_code == 201
    assert r.json()["status"] == "pending"
    assert alice_api.get(f"{LISTS}/{doi.json()['id']}").json()["pending"] == 1


def test_it_records_every_subscription_change_in_the_ledger(alice_api, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    contact = _contact(alice_api, workspace).json()
    path = f"{LISTS}/{newsletter['id']}/subscribers"
    consent = {"text_version": "2026-10", "ip": "203.0.113.9"}
    assert alice_api.post(path, {"contact_id": contact["id"], "consent": consent}).status_code == 201
    assert alice_api.post(path, {"contact_id": contact["id"]}).status_code == 201  # again: nothing changes
    assert alice_api.delete(f"{path}/{contact['id']}").status_code == 204
    assert alice_api.delete(f"{path}/{contact['id']}").status_code == 204  # idempotent
    records = list(ConsentRecord.objects.order_by("id"))
    assert [(r.action, r.list_name, r.source) for r in records] == [
        ("subscribe", "Newsletter", "api"),
        ("unsubscribe", "Newsletter", "api"),
    ]
    assert (records[0].consent_text_version, records[0].ip) == ("2026-10", "203.0.113.9")
    assert records[0].source_detail.startswith("API key ")
    assert records[0].actor is not None
    assert Subscription.objects.get().status == "unsubscribed"


def test_it_refuses_a_contact_of_another_workspace_as_subscriber(alice_api, org, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    other = Workspace.objects.create(organization=org, name="Sales")
    stranger = _contact(alice_api, other).json()
    r = alice_api.post(f"{LISTS}/{newsletter['id']}/subscribers", {"contact_id": stranger["id"]})
    assert r.status_code == 422 and "contact_id" in _fields(r)
    assert alice_api.delete(f"{LISTS}/{newsletter['id']}/subscribers/{stranger['id']}").status_code == 404


def test_it_manages_lists(alice_api, workspace):
    created = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    dup = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk})
    assert dup.status_code == 422 and "name" in _fields(dup)
    renamed = alice_api.patch(f"{LISTS}/{created['id']}", {"name": "News"})
    assert renamed.json()["name"] == "News"
    assert [x["name"] for x in alice_api.get(LISTS, workspace=workspace.pk).json()] == ["News"]
    assert alice_api.delete(f"{LISTS}/{created['id']}").status_code == 204
    assert alice_api.get(f"{LISTS}/{created['id']}").status_code == 404


def test_it_lets_viewers_read_but_not_change(alice_api, bob, workspace):
    _contact(alice_api, workspace)
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    viewer = api_for(bob)
    assert len(viewer.get(CONTACTS, workspace=workspace.pk).json()["items"]) == 1
    assert viewer.post(CONTACTS, {"email": "x@example.com", "workspace": workspace.pk}).status_code == 403
    assert viewer.post(SUPPRESSIONS, {"email": "x@example.com", "workspace": workspace.pk}).status_code == 403


def test_it_needs_the_contacts_scope(alice, workspace):
    api = api_for(alice, scopes=["messages.send"])
    assert api.get(CONTACTS, workspace=workspace.pk).status_code == 403


def test_it_exports_and_erases_a_contact(alice_api, alice, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    contact = _contact(alice_api, workspace, name="Ann", lists=[newsletter["id"]]).json()
    body = {"from": alice.email, "to": ["ann@example.com"], "subject": "Hello Ann", "text": "Hi"}
    submit(alice, parse_submission(body), workspace=workspace, organization=workspace.organization)
    alice_api.post(SUPPRESSIONS, {"email": "ann@example.com", "reason": "unsubscribe", "workspace": workspace.pk})

    export = alice_api.get(f"{CONTACTS}/{contact['id']}/export").json()
    assert export["contact"]["name"] == "Ann"
    assert [s["list"] for s in export["subscriptions"]] == ["Newsletter"]
    assert [r["action"] for r in export["consent_records"]] == ["subscribe"]
    assert [m["subject"] for m in export["messages"]] == ["Hello Ann"]
    assert [s["reason"] for s in export["suppressions"]] == ["unsubscribe"]

    assert alice_api.delete(f"{CONTACTS}/{contact['id']}").status_code == 204
    assert alice_api.get(f"{CONTACTS}/{contact['id']}").status_code == 404
    assert not Subscription.objects.exists()
    (tombstone,) = ConsentRecord.objects.all()
    assert (tombstone.action, tombstone.contact, tombstone.list_name) == ("erase", None, "")
    assert "ann" not in tombstone.email_hash
    # The person asked not to be mailed: that stays true after the erasure.
    assert Suppression.objects.filter(workspace=workspace, email="ann@example.com").exists()


def test_it_streams_a_formula_safe_csv(alice_api, workspace):
    newsletter = alice_api.post(LISTS, {"name": "Newsletter", "workspace": workspace.pk}).json()
    _contact(
        alice_api,
        workspace,
        name='=HYPERLINK("http://evil.example","click")',
        attributes={"note": "@SUM(A1:A9)", "score": -3, "plain": "fine", "tab": "\tcmd", "plus": "+1"},
        lists=[newsletter["id"]],
    )
    _contact(alice_api, workspace, email="bo@example.com", attributes={"city": "-Lund"})
    # A plain client: the secret guard of tests/api/conftest.py reads .content, which a stream lacks.
    path = f"/api/v1/workspaces/{workspace.pk}/contacts/export"
    r = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {alice_api.key}")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert list(rows[0]) == [
        "email",
        "name",
        "language",
        "time_zone",
        "status",
        "lists",
        "attributes.city",
        "attributes.note",
        "attributes.plain",
        "attributes.plus",
        "attributes.score",
        "attributes.tab",
    ]
    ann, bo = rows
    assert ann["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert ann["attributes.note"] == "'@SUM(A1:A9)"
    assert ann["attributes.score"] == "'-3"
    assert ann["attributes.tab"] == "'\tcmd"
    assert ann["attributes.plus"] == "'+1"
    assert ann["attributes.plain"] == "fine"
    assert ann["lists"] == "Newsletter"
    assert bo["attributes.city"] == "'-Lund"
    assert bo["attributes.note"] == ""


def test_it_adds_lists_and_removes_suppressions_with_an_audit(alice_api, workspace):
    r = alice_api.post(SUPPRESSIONS, {"email": "Gone@Example.com", "reason": "complaint", "workspace": workspace.pk})
    assert r.status_code == 201
    assert (r.json()["email"], r.json()["reason"], r.json()["source"], r.json()["global"]) == (
        "gone@example.com",
        "complaint",
        "api",
        False,
    )
    bad = alice_api.post(SUPPRESSIONS, {"email": "x@example.com", "reason": "dislike", "workspace": workspace.pk})
    assert bad.status_code == 422 and "reason" in _fields(bad)
    Suppression.objects.create(workspace=None, email="everyone@example.com", reason="manual")
    listed = alice_api.get(SUPPRESSIONS, workspace=workspace.pk).json()
    assert {(s["email"], s["global"]) for s in listed} == {("gone@example.com", False), ("everyone@example.com", True)}

    gone = alice_api.call("DELETE", f"{SUPPRESSIONS}?email=gone@example.com&workspace={workspace.pk}")
    assert gone.status_code == 204
    again = alice_api.call("DELETE", f"{SUPPRESSIONS}?email=gone@example.com&workspace={workspace.pk}")
    assert again.status_code == 404
    operator = alice_api.call("DELETE", f"{SUPPRESSIONS}?email=everyone@example.com&workspace={workspace.pk}")
    assert operator.status_code == 403
    assert Suppression.objects.filter(email="everyone@example.com").exists()
    audit = [(a.action, a.email, a.reason) for a in SuppressionAudit.objects.order_by("id")]
    assert audit == [("add", "gone@example.com", "complaint"), ("remove", "gone@example.com", "complaint")]
    assert all(a.actor is not None for a in SuppressionAudit.objects.all())


def test_a_suppression_is_lifted_with_the_address_in_a_json_body_too(alice_api, workspace):
    # The contract names {"email", "reason"} for GET, POST and DELETE alike.
    alice_api.post(SUPPRESSIONS, {"email": "gone@example.com", "workspace": workspace.pk})
    gone = alice_api.call("DELETE", SUPPRESSIONS, {"email": "Gone@example.com", "workspace": workspace.pk})
    assert gone.status_code == 204, gone.content
    assert not Suppression.objects.exists()
    nothing = alice_api.call("DELETE", SUPPRESSIONS, {"workspace": workspace.pk})
    assert nothing.status_code == 422
    assert _fields(nothing) == {"email": "is required: in the query (?email=) or the JSON body"}
    both = alice_api.call("DELETE", f"{SUPPRESSIONS}?email=a@example.com", {"email": "b@example.com"})
    assert both.status_code == 422
    assert "email" in _fields(both)


def test_it_drops_mail_to_an_address_suppressed_through_the_api(
    alice, alice_api, workspace, smtp_server_no_tls, settings
):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://127.0.0.1:{smtp_server_no_tls.port}?security=none"
    settings.OPENESP_SENDGRID_API_KEY = settings.OPENESP_MAILJET_API_KEY = ""
    alice_api.post(SUPPRESSIONS, {"email": "Gone@example.com", "workspace": workspace.pk})
    body = {"from": alice.email, "to": ["gone@example.com", "here@example.com"], "subject": "s", "text": "t"}
    submit(alice, parse_submission(body), workspace=workspace)
    worker = Worker("t")
    try:
        worker.run_once()
    finally:
        worker.close()
    assert Message.objects.get(to_email="gone@example.com").status == "dropped"
    assert Event.objects.filter(message__to_email="gone@example.com", type="dropped").exists()
    assert Message.objects.get(to_email="here@example.com").status == "sent"
    assert [m.rcpt_tos for m in smtp_server_no_tls.messages] == [["here@example.com"]]

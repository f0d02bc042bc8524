"""The audience actions the API, the CLI and (later) the UI and the importer share."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from openesp.accounts.models import Workspace
from openesp.audience.actions import ContactExists, create_contact, create_list, subscribe, unsubscribe, update_contact
from openesp.audience.consent import Consent, email_hash
from openesp.audience.doubleoptin import confirm
from openesp.audience.gdpr import erase_contact
from openesp.audience.models import ConsentRecord, ConsentSource, Contact, Subscription, SuppressionAudit
from openesp.audience.suppressions import add_suppression
from openesp.lib.downloads import safe_cell
from openesp.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_it_walks_a_double_opt_in_subscription_through_the_ledger(alice, workspace):
    weekly = create_list(workspace, "Weekly", double_opt_in=True)
    contact = create_contact(workspace, "ann@example.com")
    form = Consent(source=ConsentSource.FORM, detail="signup form", text_version="v3", ip="2001:db8::1")
    subscription = subscribe(contact, weekly, form)
    assert subscription.status == "pending" and subscription.confirmed_at is None
    assert subscribe(contact, weekly, form).status == "pending"  # a repeat records nothing
    confirm(subscription, Consent(source=ConsentSource.DOUBLE_OPT_IN, ip="2001:db8::1"))
    unsubscribe(contact, weekly, Consent(source=ConsentSource.FORM, actor=alice))
    rows = list(ConsentRecord.objects.order_by("id").values_list("action", "source", "consent_text_version"))
    assert rows == [("subscribe", "form", "v3"), ("confirm", "double_opt_in", ""), ("unsubscribe", "form", "")]
    assert Subscription.objects.get().unsubscribed_at is not None
    # Resubscribing to a double opt-in list asks for confirmation again.
    again = subscribe(contact, weekly, form)
    assert (again.status, again.confirmed_at) == ("pending", None)


def test_it_never_changes_a_consent_record(workspace):
    contact = create_contact(workspace, "ann@example.com", lists=[create_list(workspace, "News")])
    record = ConsentRecord.objects.get()
    record.source_detail = "rewritten"
    with pytest.raises(ValueError):
        record.save()
    assert ConsentRecord.objects.get().source_detail == ""
    assert record.contact == contact


def test_it_checks_attribute_types_and_names(workspace):
    with pytest.raises(InvalidInput) as exc:
        create_contact(workspace, "a@example.com", attributes={"ok": 1.5, "bad key": 1, "n": float("nan"), "d": {}})
    assert set(exc.value.as_dict()) == {"attributes.bad key", "attributes.n", "attributes.d"}


def test_it_refuses_taking_another_contacts_address(workspace):
    create_contact(workspace, "ann@example.com")
    bo = create_contact(workspace, "bo@example.com")
    with pytest.raises(ContactExists):
        update_contact(bo, {"email": "ANN@example.com"})


def test_it_keeps_an_unreadable_tombstone_on_erasure(alice, workspace):
    contact = create_contact(workspace, "ann@example.com", lists=[create_list(workspace, "News")])
    tombstone = erase_contact(contact, alice)
    assert not Contact.objects.exists()
    assert list(ConsentRecord.objects.all()) == [tombstone]
    assert tombstone.email_hash == email_hash(workspace.pk, "ann@example.com")
    assert tombstone.actor == alice


def test_it_audits_suppressions_once(alice, workspace):
    first = add_suppression(workspace, "x@example.com", "manual", actor=alice)
    again = add_suppression(workspace, "X@example.com", "complaint")
    assert first.pk == again.pk and again.reason == "manual"
    assert SuppressionAudit.objects.count() == 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\0x", "'\0x"),
        ("a=b", "a=b"),
        (True, "true"),
        (None, ""),
        (-2, "'-2"),
    ],
)
def test_it_neutralises_formulas(value, cell):
    assert safe_cell(value) == cell


def test_it_exports_and_erases_on_the_command_line(tmp_path, workspace, org):
    create_contact(workspace, "ann@example.com", attributes={"note": "=cmd|' /C calc'!A0"})
    out = io.StringIO()
    call_command("contacts", "export", "--workspace", str(workspace.pk), stdout=out)
    assert out.getvalue().splitlines() == [
        "email,name,language,time_zone,status,lists,attributes.note",
        "ann@example.com,,,,active,,'=cmd|' /C calc'!A0",
    ]
    target = tmp_path / "contacts.csv"
    call_command("contacts", "export", "--workspace", str(workspace.pk), "--output", str(target))
    assert target.read_text().splitlines()[1] == "ann@example.com,,,,active,,'=cmd|' /C calc'!A0"

    other = Workspace.objects.create(organization=org, name="Sales")
    with pytest.raises(CommandError, match="no contact"):
        call_command("contacts", "erase", "--workspace", str(other.pk), "ann@example.com")
    out = io.StringIO()
    call_command("contacts", "erase", "--workspace", str(workspace.pk), "ANN@example.com", stdout=out)
    assert "erased" in out.getvalue()
    assert not Contact.objects.exists()
    assert ConsentRecord.objects.get().source_detail == "openesp contacts erase"


def test_it_prints_a_contacts_full_record_on_the_command_line(workspace, org):
    # GDPR access request from the CLI: the same JSON as GET /api/v1/contacts/{id}/export.
    news = create_list(workspace, "News")
    create_contact(workspace, "Ann@Example.com", name="Ann", lists=[news])
    out = io.StringIO()
    call_command("contacts", "record", "--workspace", str(workspace.pk), "ann@example.com", stdout=out)
    record = json.loads(out.getvalue())
    assert record["contact"]["email"] == "Ann@example.com"
    assert [s["list"] for s in record["subscriptions"]] == ["News"]
    assert [r["action"] for r in record["consent_records"]] == ["subscribe"]

    other = Workspace.objects.create(organization=org, name="Sales")
    with pytest.raises(CommandError, match="no contact"):
        call_command("contacts", "record", "--workspace", str(other.pk), "ann@example.com")
    with pytest.raises(CommandError, match="EMAIL: "):
        call_command("contacts", "record", "--workspace", str(workspace.pk), "not-an-address")

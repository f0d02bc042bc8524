"""The CSV import engine and its jobs: reading, checking, the three modes, the ledger, limits."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.audience import imports
from openesp.audience.actions import create_contact, create_list, normalise_email, subscribe
from openesp.audience.consent import email_hash
from openesp.audience.gdpr import erase_contact
from openesp.audience.imports import ERASED, auto_mapping, check_mapping, runner, sniff, validate_addresses
from openesp.audience.models import (
    ConsentRecord,
    Contact,
    ContactStatus,
    ImportJob,
    ImportStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionAudit,
)
from openesp.audience.suppressions import add_suppression
from openesp.lib.errors import InvalidInput
from tests.audience.import_helpers import problems, queue, run_all, run_import, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def news(workspace):
    return create_list(workspace, "News")


def test_it_reads_utf8_with_a_bom_semicolons_and_swedish_headers(workspace, news, alice):
    data = "\ufeffE-post;Namn;Språk;Tidszon;Stad\nåsa@example.com;Åsa Öberg;sv;Europe/Stockholm;Umeå\n"
    job = run_import(workspace, news, data, actor=alice)
    assert (job.status, job.encoding, job.delimiter) == ("done", "utf-8", ";")
    assert job.mapping == {
        "E-post": "email",
        "Namn": "name",
        "Språk": "language",
        "Tidszon": "time_zone",
        "Stad": "attributes.Stad",
    }
    contact = Contact.objects.get(workspace=workspace)
    assert (contact.email, contact.name, contact.language, contact.time_zone) == (
        "åsa@example.com",
        "Åsa Öberg",
        "sv",
        "Europe/Stockholm",
    )
    assert contact.attributes == {"Stad": "Umeå"}
    assert (job.created, job.updated, job.skipped, job.warnings) == (1, 0, 0, [])


def test_it_falls_back_to_latin1_for_the_whole_file_with_a_warning(workspace, news):
    # The only byte that is not UTF-8 comes last: the first rows must not be read differently.
    data = "email,name\nann@example.com,Åsa\nbo@example.com,Björn\ncy@example.com,Zoë\n".encode("latin-1")
    job = run_import(workspace, news, data)
    assert job.encoding == "latin-1"
    assert "not valid UTF-8" in job.warnings[0]
    names = dict(Contact.objects.values_list("email", "name"))
    assert names == {"ann@example.com": "Åsa", "bo@example.com": "Björn", "cy@example.com": "Zoë"}


def test_it_detects_a_tab_delimiter(workspace, news):
    job = run_import(workspace, news, "mail\tfull name\nann@example.com\tAnn Ek\n")
    assert job.delimiter == "\t"
    assert Contact.objects.get().name == "Ann Ek"


def test_a_broken_quote_is_one_bad_row_and_the_rest_is_read(workspace, news):
    lines = ["email,name", 'ann@example.com,"Ann']  # never closed
    lines += [f"p{i}@example.com,P {i}" for i in range(150)]
    job = run_import(workspace, news, "\n".join(lines) + "\n")
    assert problems(job) == [(1, "unreadable CSV: a quoted field is not closed within 100 lines")]
    assert (job.created, job.skipped) == (150, 1)
    assert job.problems.get().raw == 'ann@example.com,"Ann'


def test_a_quote_closed_lines_later_does_not_swallow_addresses(workspace, news):
    data = 'email,name\nann@example.com,"Ann\nbo@example.com,Bo\ncy@example.com,Cy"\ndi@example.com,Di\n'
    job = run_import(workspace, news, data)
    assert problems(job)[0] == (1, "unreadable CSV: a quoted field is not closed on this line")
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "bo@example.com",
        "cy@example.com",
        "di@example.com",
    ]
    assert Contact.objects.get(email="cy@example.com").name == 'Cy"'


def test_a_quoted_field_may_hold_a_line_break_in_an_attribute(workspace, news):
    job = run_import(workspace, news, 'email,note\nann@example.com,"line one\nline two"\nbo@example.com,x\n')
    assert (job.created, job.skipped) == (2, 0)
    assert Contact.objects.get(email="ann@example.com").attributes == {"note": "line one\nline two"}


def test_bad_rows_are_reported_with_their_reasons_and_the_rest_imported(workspace, news):
    long_name = "N" * 201
    data = "\n".join(
        [
            "email,name,language,time_zone,city",
            "ok@example.com,Ok,sv,Europe/Stockholm,Lund",
            "not-an-address,X,,,",
            "two@example.com,Two",
            f"long@example.com,{long_name},,,",
            "lang@example.com,L,sv_SE!,,",
            "tz@example.com,T,,Mars/Olympus,",
            f"attr@example.com,A,,,{'x' * 1001}",
            ",Nobody,,,",
            "OK@EXAMPLE.COM,Again,,,",
            "",
            "last@example.com,Last,,,",
        ]
    )
    job = run_import(workspace, news, data)
    got = problems(job)
    assert got[0][0] == 2 and got[0][1].startswith("email: ")
    assert got[1:] == [
        (3, "has 2 fields; the header has 5"),
        (4, "name: must be printable text of at most 200 characters"),
        (5, "language: must be a language tag such as en, sv or pt-BR"),
        (6, "time_zone: must be an IANA time zone such as Europe/Stockholm"),
        (7, "attributes.city: is longer than 1000 characters"),
        (8, "email: is required"),
        (9, "duplicate of row 1"),
    ]
    assert (job.created, job.updated, job.skipped) == (2, 0, 8)
    assert job.problems.get(row_number=3).raw == "two@example.com,Two"


def test_addresses_are_checked_by_the_same_rules_as_the_api():
    addresses = [
        "Ann@Example.COM",
        "ann@bücher.example",
        "a..b@example.com",
        "ann@-example.com",
        "ann@example",
        '"quoted"@example.com',
        "ann@[127.0.0.1]",
        "x" * 65 + "@example.com",
        "ann@xn--bcher-kva.example",
    ]
    for address, result in zip(addresses, validate_addresses(addresses, 7), strict=True):
        expected: tuple[str, str, str] | str
        try:
            email, key = normalise_email(address)
            expected = (email, key, email_hash(7, key))
        except InvalidInput as exc:
            expected = f"email: {exc.problems[0].reason}"
        assert result == expected, address


def test_the_raw_row_in_the_report_is_cut_at_2000_characters(workspace, news):
    job = run_import(workspace, news, "email,note\nbad," + "y" * 3000 + "\n")
    assert len(job.problems.get().raw) == 2000


def test_suppressed_addresses_are_skipped(workspace, news):
    add_suppression(workspace, "blocked@example.com")
    Suppression.objects.create(workspace=None, email="global@example.com", reason="complaint")
    job = run_import(workspace, news, "email\nblocked@example.com\nGLOBAL@example.com\nfine@example.com\n")
    assert problems(job) == [(1, "suppressed"), (2, "suppressed")]
    assert list(Contact.objects.values_list("email", flat=True)) == ["fine@example.com"]


def test_an_address_erased_at_the_persons_request_is_not_brought_back(workspace, news, org, alice):
    gone = create_contact(workspace, "Gone@Example.com", lists=[news])
    erase_contact(gone, alice)
    # Another workspace's erasure is not this workspace's business.
    elsewhere = Workspace.objects.create(organization=org, name="Sales")
    erase_contact(create_contact(elsewhere, "other@example.com"), alice)

    job = run_import(workspace, news, "email\ngone@example.com\nother@example.com\nnew@example.com\n")

    assert problems(job) == [(1, ERASED)]
    assert (job.created, job.skipped) == (2, 1)
    assert sorted(Contact.objects.filter(workspace=workspace).values_list("email", flat=True)) == [
        "new@example.com",
        "other@example.com",
    ]
    # Added by hand again, the address imports like any other contact.
    create_contact(workspace, "gone@example.com")
    again = run_import(workspace, news, "email\ngone@example.com\n")
    assert (again.updated, again.skipped) == (1, 0)


def test_a_double_opt_in_list_is_subscribed_directly_and_the_ledger_says_import(workspace, alice):
    confirmed = create_list(workspace, "Confirmed", double_opt_in=True)
    job = run_import(workspace, confirmed, "email\nnew@example.com\n", actor=alice, consent_text_version="v7")
    assert (job.created, job.updated, job.skipped) == (1, 0, 0)
    assert Subscription.objects.get(contact_list=confirmed).status == SubscriptionStatus.SUBSCRIBED
    record = ConsentRecord.objects.get(source="import")
    assert (record.contact.email, record.action, record.source_detail, record.consent_text_version, record.actor) == (
        "new@example.com",
        "import",
        f"import {job.pk}",
        "v7",
        alice,
    )
    assert (record.contact_list, record.list_name) == (confirmed, "Confirmed")


def test_a_pending_subscription_stays_pending(workspace):
    """Someone typed the address into a sign-up form and never confirmed: the importer's word
    does not confirm it."""
    confirmed = create_list(workspace, "Confirmed", double_opt_in=True)
    create_contact(workspace, "pending@example.com", lists=[confirmed])
    create_contact(workspace, "renamed@example.com", name="Re", lists=[confirmed])
    job = run_import(workspace, confirmed, "email,name\npending@example.com,\nrenamed@example.com,Renée\n")
    assert (job.created, job.updated, job.skipped) == (0, 1, 0)
    assert set(Subscription.objects.filter(contact_list=confirmed).values_list("status", flat=True)) == {"pending"}
    assert not ConsentRecord.objects.filter(source="import").exists()
    assert Contact.objects.get(email="renamed@example.com").name == "Renée"


def test_an_earlier_unsubscription_is_respected(workspace, news):
    contact = create_contact(workspace, "left@example.com", lists=[news])
    from openesp.audience.actions import unsubscribe

    unsubscribe(contact, news)
    bounced = create_contact(workspace, "bounced@example.com")
    Contact.objects.filter(pk=bounced.pk).update(status=ContactStatus.BOUNCED)
    job = run_import(workspace, news, "email\nleft@example.com\nbounced@example.com\n")
    assert problems(job) == [(1, "unsubscribed from this list earlier"), (2, "the contact's status is bounced")]
    assert Subscription.objects.get(contact=contact).status == SubscriptionStatus.UNSUBSCRIBED


def test_existing_contacts_are_updated_and_attributes_merged(workspace, news):
    contact = create_contact(workspace, "ann@example.com", name="Ann", attributes={"plan": "pro", "city": "Lund"})
    subscribe(contact, news)
    job = run_import(workspace, news, "email,name,city\nANN@example.com,Ann Ek,Malmö\n")
    contact.refresh_from_db()
    assert (contact.name, contact.attributes) == ("Ann Ek", {"plan": "pro", "city": "Malmö"})
    assert (job.created, job.updated) == (0, 1)
    assert ConsentRecord.objects.filter(source="import").count() == 0  # was subscribed already


def test_empty_cells_leave_fields_as_they_are(workspace, news):
    contact = create_contact(workspace, "ann@example.com", name="Ann", language="sv", lists=[news])
    before = contact.updated_at
    job = run_import(workspace, news, "email,name,language\nann@example.com,,\n")
    contact.refresh_from_db()
    assert (contact.name, contact.language, contact.updated_at) == ("Ann", "sv", before)
    assert (job.created, job.updated, job.skipped) == (0, 0, 0)


def test_update_mode_changes_only_existing_contacts(workspace, news):
    other = create_list(workspace, "Other")
    contact = create_contact(workspace, "ann@example.com", lists=[other])
    job = run_import(workspace, news, "email,name\nann@example.com,Ann\nnew@example.com,New\n", mode="update")
    assert problems(job) == [(2, "not a contact")]
    assert (job.created, job.updated, job.skipped) == (0, 1, 1)
    assert Contact.objects.get(pk=contact.pk).name == "Ann"
    assert not Subscription.objects.filter(contact_list=news).exists()
    assert Contact.objects.count() == 1


def test_unsubscribe_mode_unsubscribes_and_blocks_even_unknown_addresses(workspace, news, alice):
    subscribed = create_contact(workspace, "sub@example.com", lists=[news])
    add_suppression(workspace, "known@example.com", "manual")
    data = "email\nsub@example.com\nstranger@example.com\nknown@example.com\n"
    job = run_import(workspace, news, data, mode="unsubscribe", actor=alice)
    assert (job.created, job.updated, job.skipped) == (1, 1, 0)
    subscribed.refresh_from_db()
    assert subscribed.status == ContactStatus.UNSUBSCRIBED
    assert subscribed.subscriptions.get().status == SubscriptionStatus.UNSUBSCRIBED
    blocked = {s.email: (s.reason, s.source, s.detail) for s in Suppression.objects.all()}
    assert blocked == {
        "sub@example.com": ("unsubscribe", "import", f"import {job.pk}"),
        "stranger@example.com": ("unsubscribe", "import", f"import {job.pk}"),
        "known@example.com": ("manual", "api", ""),
    }
    assert SuppressionAudit.objects.filter(source="import").count() == 2
    record = ConsentRecord.objects.get(action="unsubscribe")
    assert (record.contact, record.source, record.contact_list) == (subscribed, "import", news)
    assert not Contact.objects.filter(email="stranger@example.com").exists()


@pytest.mark.parametrize("mode", ["subscribe", "update", "unsubscribe"])
def test_importing_the_same_file_again_changes_nothing(workspace, news, mode):
    create_contact(workspace, "old@example.com", name="Old", lists=[news])
    data = "email,name,city\nold@example.com,Older,Lund\nnew@example.com,New,Umeå\nbad,x,y\nnew@example.com,Dup,z\n"
    first = run_import(workspace, news, data, mode=mode)
    assert (first.created, first.updated) != (0, 0)
    before = snapshot(workspace)
    again = run_import(workspace, news, data, mode=mode)
    assert (again.created, again.updated, again.skipped) == (0, 0, first.skipped)
    assert snapshot(workspace) == before


def test_the_row_limit_skips_and_counts_the_rest_with_a_warning(workspace, news, settings):
    settings.OPENESP_IMPORT_MAX_ROWS = 2
    job = run_import(workspace, news, "email\na@example.com\nb@example.com\nc@example.com\nd@example.com\n")
    assert (job.created, job.skipped) == (2, 2)
    assert any("more than 2 rows" in w for w in job.warnings)
    assert problems(job) == []


def test_a_file_over_the_size_limit_is_refused_and_not_kept(settings):
    settings.OPENESP_IMPORT_MAX_BYTES = 10
    before = set(imports.imports_dir().iterdir())
    with pytest.raises(InvalidInput) as caught:
        imports.store_upload([b"email\n", b"ann@example.com\n"])
    assert caught.value.problems[0].field == "file"
    assert "10 bytes" in caught.value.problems[0].reason
    assert set(imports.imports_dir().iterdir()) == before


def test_the_file_is_private_while_queued_and_deleted_when_done(workspace, news):
    job = queue(workspace, news, "email\nann@example.com\n")
    path = Path(settings.DATA_DIR) / job.file_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    run_all()
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.file_path == ""
    assert not path.exists()


def test_an_explicit_mapping_is_used_and_checked(workspace, news):
    data = "Mail,Who,Ignored\nann@example.com,Ann,zzz\n"
    job = run_import(workspace, news, data, mapping={"Mail": "email", "Who": "attributes.who", "Ignored": ""})
    assert Contact.objects.get().attributes == {"who": "Ann"}
    assert job.mapping == {"Mail": "email", "Who": "attributes.who", "Ignored": ""}
    with pytest.raises(InvalidInput) as caught:
        check_mapping(["Mail", "Who"], {"Mail": "name", "Who": "attributes.bad key", "Nope": "email"})
    assert caught.value.as_dict() == {
        "mapping.Who": "must be email, name, language, time_zone, attributes.<name> or empty (ignore)",
        "mapping.Nope": "is not a column of the file",
    }
    with pytest.raises(InvalidInput, match="one column must be mapped to email"):
        check_mapping(["Mail"], {"Mail": "name"})


def test_unknown_columns_are_attributes_or_ignored_with_a_warning():
    mapping, warnings = auto_mapping(["Email", "first_name", "Favourite colour", "status", "attributes.plan"])
    assert mapping == {
        "Email": "email",
        "first_name": "name",  # no column for the whole name: the first name is the name
        "Favourite colour": "",
        "status": "",
        "attributes.plan": "attributes.plan",
    }
    assert len(warnings) == 2 and "'Favourite colour' is ignored" in warnings[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["Email", "First name", "Last name"], {"First name": "name", "Last name": "attributes.last_name"}),
        (["E-post", "Förnamn", "Efternamn"], {"Förnamn": "name", "Efternamn": "attributes.last_name"}),
        (["email", "Name", "First name"], {"Name": "name", "First name": "attributes.first_name"}),
        (["Email address", "Full name", "Surname"], {"Full name": "name", "Surname": "attributes.last_name"}),
        (["Mail", "given_name", "family-name"], {"given_name": "name", "family-name": "attributes.last_name"}),
    ],
)
def test_first_and_last_names_are_guessed(header, expected):
    """Issue 10: "First name" and "Name" columns are mapped, not ignored."""
    mapping, warnings = auto_mapping(header)
    assert {column: mapping[column] for column in expected} == expected
    assert warnings == []


def test_a_file_without_an_email_column_or_in_utf16_is_refused(workspace, news, tmp_path):
    before = set(imports.imports_dir().iterdir())
    with pytest.raises(InvalidInput, match="no email column"):
        queue(workspace, news, "name,city\nAnn,Lund\n")
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("email\nann@example.com\n".encode("utf-16"))
    with pytest.raises(InvalidInput, match="UTF-16"):
        sniff(utf16)
    assert set(imports.imports_dir().iterdir()) == before


def test_a_runner_taken_over_mid_file_goes_on_where_it_stopped(workspace, news, monkeypatch):
    """In-process: the first runner dies after its second batch (nothing of the third is kept);
    a second runner takes the job over once the lease has run out, and finds duplicates of rows
    the first one did."""
    rows = (
        [f"p{i}@example.com" for i in range(25)] + ["P3@example.com", "bad"] + [f"q{i}@example.com" for i in range(5)]
    )
    job = queue(workspace, news, "email\n" + "\n".join(rows) + "\n")

    class Killed(BaseException):
        pass

    batches = []

    def die_on_the_third(j: ImportJob) -> None:
        batches.append(j.rows_done)
        if len(batches) == 2:
            raise Killed

    claimed = imports.claim("first")
    assert claimed is not None
    with pytest.raises(Killed):
        imports.run_job(claimed, "first", progress=die_on_the_third, batch_rows=10)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == ("running", 20, 20)
    assert imports.claim("second") is None  # the lease still holds
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now())
    assert imports.run_pending("second", batch_rows=10)
    job.refresh_from_db()
    assert (job.status, job.created, job.updated, job.skipped) == ("done", 30, 0, 2)
    assert problems(job)[0] == (26, "duplicate of row 4")
    assert ConsentRecord.objects.count() == Contact.objects.count() == 30


def test_a_cancelled_job_stops_and_its_file_goes(workspace, news):
    job = queue(workspace, news, "email\nann@example.com\n")
    imports.cancel(job)
    assert job.status == ImportStatus.CANCELLED and job.file_path == ""
    run_all()
    assert not Contact.objects.exists()


def test_cancelling_a_running_job_stops_it_at_the_next_batch(workspace, news):
    job = queue(workspace, news, "email\n" + "\n".join(f"p{i}@example.com" for i in range(30)) + "\n")
    claimed = imports.claim("runner")
    assert claimed is not None

    def cancel_now(j: ImportJob) -> None:
        imports.cancel(ImportJob.objects.get(pk=j.pk))

    imports.run_job(claimed, "runner", progress=cancel_now, batch_rows=10)
    job.refresh_from_db()
    assert (job.status, job.created, job.file_path) == ("cancelled", 10, "")
    assert Contact.objects.count() == 10


def test_a_job_whose_list_was_deleted_fails_clearly(workspace, news):
    job = queue(workspace, news, "email\nann@example.com\n")
    news.delete()
    run_all()
    job.refresh_from_db()
    assert (job.status, job.error, job.file_path) == ("failed", "the list was deleted", "")


def test_the_report_is_formula_safe_csv(workspace, news):
    job = run_import(workspace, news, "email,name\n=cmd|' /C calc'!A0,x\n")
    lines = "".join(imports.report_csv(job)).splitlines()
    assert lines[0] == "row,reason,raw"
    assert lines[1].startswith("1,email: ")
    assert "'=cmd" in lines[1]


def test_the_consent_ledger_rows_name_the_import(workspace, news):
    job = run_import(workspace, news, "email\nann@example.com\n", consent_text_version="2026-11")
    record = ConsentRecord.objects.get()
    assert (record.source, record.source_detail, record.consent_text_version) == (
        "import",
        f"import {job.pk}",
        "2026-11",
    )


def test_reimporting_the_contact_export_changes_nothing(workspace, news):
    """The export's formula guard (a leading ') is not data, and ``3``/``true`` are the export's
    text of the stored 3/true: the stored values and their types stay."""
    from openesp.audience.export import export_contacts_csv

    create_contact(
        workspace, "-ann@example.com", name="=Ann", attributes={"orders": 3, "vip": True, "score": 2.5}, lists=[news]
    )
    create_contact(workspace, "bo@example.com", attributes={"note": "@home", "vip": False}, lists=[news])
    exported = "".join(export_contacts_csv(workspace))
    assert "'-ann@example.com" in exported and "'=Ann" in exported
    before = snapshot(workspace)
    job = run_import(workspace, news, exported)
    assert (job.status, job.created, job.updated, job.skipped) == ("done", 0, 0, 0)
    assert snapshot(workspace) == before
    assert Contact.objects.get(email="-ann@example.com").attributes == {"orders": 3, "vip": True, "score": 2.5}


def test_a_typed_attribute_changed_by_the_file_becomes_the_files_string(workspace, news):
    contact = create_contact(workspace, "ann@example.com", attributes={"orders": 3, "vip": True}, lists=[news])
    job = run_import(workspace, news, "email,orders,vip\nann@example.com,4,true\n")
    contact.refresh_from_db()
    assert (job.updated, contact.attributes) == (1, {"orders": "4", "vip": True})


def test_a_line_over_1_mib_is_one_bad_row_and_not_held_in_memory(workspace, news, tmp_path):
    import tracemalloc

    from openesp.audience.imports import MAX_LINE_BYTES

    data = b"email,name\nann@example.com,Ann\n" + b"x" * (20 * MAX_LINE_BYTES) + b"\nbo@example.com,Bo\n"
    path = tmp_path / "long.csv"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        sniffed = sniff(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sniffed.header == ["email", "name"]
    assert peak < 6 * MAX_LINE_BYTES
    job = run_import(workspace, news, data)
    assert (job.status, job.created, job.skipped) == ("done", 2, 1)
    assert problems(job) == [(2, "the line is longer than 1 MiB")]
    assert len(job.problems.get().raw) == 2000


def test_a_header_line_over_1_mib_is_refused_clearly(tmp_path):
    from openesp.audience.imports import MAX_LINE_BYTES, ImportRefused

    path = tmp_path / "long.csv"
    path.write_bytes(b"email," + b"x" * MAX_LINE_BYTES + b"\nann@example.com,\n")
    with pytest.raises(ImportRefused, match="header line longer than 1 MiB"):
        sniff(path)


def _taken_over_after_two_batches(workspace, news) -> ImportJob:
    """A 30-row job whose first runner committed 20 rows and died; its lease has run out."""
    job = queue(workspace, news, "email\n" + "\n".join(f"p{i}@example.com" for i in range(30)) + "\n")
    claimed = imports.claim("first")
    assert claimed is not None

    class Killed(BaseException):
        pass

    def die_after_two(j: ImportJob) -> None:
        if j.rows_done == 20:
            raise Killed

    with pytest.raises(Killed):
        imports.run_job(claimed, "first", progress=die_after_two, batch_rows=10)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now())
    second = imports.claim("second", lease=timedelta(seconds=5))
    assert second is not None
    return second


def test_a_runner_taking_over_renews_its_lease_while_it_rereads_the_rows_done(workspace, news, monkeypatch):
    job = _taken_over_after_two_batches(workspace, news)
    check_record = runner.check_record
    leases = []

    def watch(plan, record):  # type: ignore[no-untyped-def]
        if record.row == 20:  # the last row re-read
            leases.append(ImportJob.objects.get(pk=job.pk).lease_until - timezone.now())
        return check_record(plan, record)

    monkeypatch.setattr(runner, "check_record", watch)
    imports.run_job(job, "second", lease=timedelta(seconds=600), batch_rows=10)
    assert leases[0] > timedelta(seconds=500)
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 30)


def test_a_runner_rereading_the_rows_done_stops_when_the_job_is_cancelled(workspace, news, monkeypatch):
    job = _taken_over_after_two_batches(workspace, news)
    check_record = runner.check_record
    rows = []

    def cancel_on_the_fifth(plan, record):  # type: ignore[no-untyped-def]
        rows.append(record.row)
        if len(rows) == 5:
            imports.cancel(ImportJob.objects.get(pk=job.pk))
        return check_record(plan, record)

    monkeypatch.setattr(runner, "check_record", cancel_on_the_fifth)
    imports.run_job(job, "second", batch_rows=10)
    assert rows == list(range(1, 10))  # the lease renewal before row 10 found it cancelled
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.file_path) == ("cancelled", 20, "")

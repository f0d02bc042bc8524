"""A CSV import in headless Chromium, in English and in Swedish: upload a file with bad rows,
choose the columns, watch the progress page reach the end while a runner works in the
background, read the counts, download the report."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import imports
from openesp.audience.actions import create_list
from openesp.audience.models import Contact
from tests.processes import HANG

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"
# A BOM, semicolons, a bad address, a duplicate, a missing field, a broken quote, Latin letters.
CSV = (
    "\ufeffE-post;Namn;Stad;Favourite colour\r\n"
    "åsa@example.com;Åsa Öberg;Umeå;blå\r\n"
    "not-an-address;Nemo;Lund;röd\r\n"
    "ÅSA@example.com;Again;Lund;grön\r\n"
    "bo@example.com;Bo\r\n"
    'cy@example.com;"Cy;Kiruna;blå\r\n'
    "di@example.com;Di Ek;Malmö;\r\n"
)

TEXT = {
    "en-US": {"upload": "Upload and choose the columns", "start": "Start the import", "done": "Done",
              "report": "Download the report of skipped rows", "delimiter": "semicolon"},
    "sv-SE": {"upload": "Ladda upp och välj kolumner", "start": "Starta importen", "done": "Klart",
              "report": "Ladda ner rapporten över överhoppade rader", "delimiter": "semikolon"},
}  # fmt: skip


@pytest.fixture
def runner(transactional_db):
    """The import runner, in a thread beside the live server, as ``openesp serve`` runs it."""
    stop = threading.Event()
    thread = threading.Thread(target=imports.run_forever, args=(stop,), kwargs={"idle": 0.2}, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=HANG)


@pytest.mark.parametrize("locale", ["en-US", "sv-SE"])
def test_an_import_with_bad_rows_from_upload_to_report(live_server, new_page, runner, tmp_path, locale):
    text = TEXT[locale]
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    create_list(workspace, "Newsletter")
    source = tmp_path / "people.csv"
    source.write_text(CSV, encoding="utf-8")

    page = new_page(locale)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/imports/")
    page.set_input_files("#id_file", str(source))
    page.get_by_role("button", name=text["upload"]).click()

    expect(page.get_by_test_id("encoding")).to_have_text("UTF-8")
    expect(page.get_by_test_id("delimiter")).to_have_text(text["delimiter"])
    expect(page.get_by_test_id("column-0")).to_have_value("email")
    expect(page.get_by_test_id("column-2")).to_have_value("attributes.Stad")
    page.select_option("[data-testid=column-3]", "attributes.Favourite_colour")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-import-mapping-{locale}.png", full_page=True)
    page.get_by_role("button", name=text["start"]).click()

    # The page follows the runner by itself (imports.js) and shows the end without a reload by us.
    expect(page.get_by_test_id("import-status")).to_have_text(text["done"], timeout=HANG * 1000)  # a hang detector
    expect(page.get_by_test_id("count-created")).to_have_text("2")
    expect(page.get_by_test_id("count-skipped")).to_have_text("4")
    expect(page.get_by_test_id("problems").locator("tbody tr")).to_have_count(4)
    page.screenshot(path=f"{SCREENSHOTS}/openesp-import-done-{locale}.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name=text["report"]).click()
    report = download.value.path().read_text(encoding="utf-8").splitlines()
    assert report[0] == "row,reason,raw"
    assert [line.split(",")[0] for line in report[1:]] == ["2", "3", "4", "5"]
    assert report[2].startswith("3,duplicate of row 1,")
    assert sorted(Contact.objects.values_list("email", flat=True)) == ["di@example.com", "åsa@example.com"]
    assert Contact.objects.get(email="åsa@example.com").attributes == {"Stad": "Umeå", "Favourite_colour": "blå"}

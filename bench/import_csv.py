"""CSV import benchmark: N generated rows imported into a fresh database by the real runner.

    python -m bench.import_csv --rows 1000000
    python -m bench.import_csv --rows 1000000 --database-url postgres://postgres@127.0.0.1:5432/test

Without ``--database-url`` the database is SQLite in a temporary data directory; with one, a
scratch database is created next to the one named (on the same server) and dropped afterwards.
The file has the faults of a real export (a BOM, semicolons, duplicates, bad addresses, a broken
quote, an unknown column): ``generate`` also says what the import must report, and the tests use
it for the judged 100k-row case. The last line is
``rows_per_second=<float> seconds=<float> peak_rss_mb=<float>``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.site import scratch_site

HEADER = ["E-mail", "Namn", "Språk", "City", "Favourite colour"]  # the last is no valid attribute name
FIRST = ["Anna", "Björn", "Cecilia", "David", "Elin", "Fredrik", "Greta", "Hugo", "Ingrid", "Jörgen", "Åsa", "Örjan"]
LAST = ["Andersson", "Berg", "Carlsson", "Dahl", "Ek", "Fors", "Gustafsson", "Holm", "Lindqvist", "Öberg"]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Umeå", "Lund", "Kiruna"]


@dataclass
class Expected:
    """What importing the generated file into an empty list must give."""

    rows: int = 0
    created: int = 0
    skipped: int = 0
    problems: dict[int, str] = field(default_factory=dict)  # row → the start of the reason
    ignored_columns: list[str] = field(default_factory=list)


def generate(path: Path, rows: int, *, seed: int = 4, faults: bool = True) -> Expected:
    """Write ``rows`` records (UTF-8 with a BOM, ``;``-separated) and return what to expect.

    Faults, when asked for: ~1 % duplicates of an earlier address (in other case), ~1 % bad
    addresses, ~0.2 % rows with a field missing, ~0.1 % bad language tags, and one quoted name
    that is never closed, half-way through."""
    rng = random.Random(seed)
    expected = Expected(rows=rows, ignored_columns=["Favourite colour"])
    # Duplicates repeat one of the last few thousand good addresses: the generator stays small
    # (a million addresses kept here would dwarf the import's own memory in the benchmark).
    recent: deque[str] = deque(maxlen=5000)
    first_row: dict[str, int] = {}
    created = 0
    broken_at = rows // 2 if faults and rows >= 10 else -1
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        for row in range(1, rows + 1):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            language = rng.choice(["sv", "en", "", "sv-FI"])
            city = rng.choice(CITIES)
            colour = rng.choice(["blå", "röd", "grön", ""])
            email = f"{name.split()[0].lower()}.{row}@example{row % 97}.se".replace("å", "a").replace("ö", "o")
            email = email.replace("ä", "a")
            roll = rng.random() if faults else 1.0
            if row == broken_at:
                out.write(f'{email};"{name};{language};{city};{colour}\r\n')
                expected.problems[row] = "unreadable CSV: a quoted field is not closed"
                continue
            if roll < 0.01 and recent:
                earlier = recent[rng.randrange(len(recent))]
                out.write(f"{earlier.upper()};{name};{language};{city};{colour}\r\n")
                expected.problems[row] = f"duplicate of row {first_row[earlier]}"
                continue
            if roll < 0.02:
                bad = rng.choice([email.replace("@", "."), email.replace("@", "@@"), " @" + email.split("@")[1]])
                out.write(f"{bad};{name};{language};{city};{colour}\r\n")
                expected.problems[row] = "email:"
                continue
            if roll < 0.022:
                out.write(f"{email};{name};{language};{city}\r\n")
                expected.problems[row] = f"has 4 fields; the header has {len(HEADER)}"
                continue
            if roll < 0.023:
                out.write(f"{email};{name};sv_SE!;{city};{colour}\r\n")
                expected.problems[row] = "language:"
                continue
            out.write(f"{email};{name};{language};{city};{colour}\r\n")
            if len(recent) == recent.maxlen:
                del first_row[recent[0]]
            recent.append(email)
            first_row[email] = row
            created += 1
    expected.created = created
    expected.skipped = len(expected.problems)
    return expected


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per committed batch")
    parser.add_argument("--no-faults", action="store_true", help="a clean file")
    args = parser.parse_args()

    # Limits the benchmark's sizes go past; set before the site, which Django reads on setup.
    os.environ["OPENESP_IMPORT_MAX_ROWS"] = str(max(args.rows, 1))
    os.environ["OPENESP_IMPORT_MAX_BYTES"] = str(1 << 40)
    with scratch_site("openesp-bench-import-", args.database_url) as data_dir:
        run(args, data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    import subprocess

    import django

    # Migrations in their own process: building the migration state costs ~100 MB that an
    # import runner (which never migrates) does not carry.
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    django.setup()
    from django.db import connection

    from openesp.accounts.models import Membership, Organization, Role, User, Workspace
    from openesp.audience import imports
    from openesp.audience.models import ConsentRecord, Contact, ContactList, ImportJob

    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench")
    org = Organization.objects.create(name="Bench")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Bench")
    contact_list = ContactList.objects.create(workspace=workspace, name="Everyone")
    source = data_dir / "contacts.csv"
    started = time.perf_counter()
    expected = generate(source, args.rows, faults=not args.no_faults)
    size = source.stat().st_size
    print(
        f"generated {args.rows:,} rows ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s; "
        f"database: {connection.vendor}",
        flush=True,
    )

    shown = [0.0]
    t0 = time.perf_counter()

    def progress(job: ImportJob) -> None:
        now = time.perf_counter()
        if now - shown[0] >= 5:
            shown[0] = now
            elapsed = now - t0
            print(
                f"  {job.rows_done:>9,} rows  {elapsed:6.1f} s  {job.rows_done / elapsed:8.0f} rows/s  "
                f"rss {peak_rss_mb():.0f} MB",
                flush=True,
            )

    def chunks() -> Any:
        with source.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    owner = "bench"
    stored = imports.store_upload(chunks())
    job = imports.create_job(workspace, contact_list, stored, file_name="contacts.csv", actor=user, lease_owner=owner)
    kw = {"batch_rows": args.batch_size} if args.batch_size else {}
    imports.run_job(job, owner, progress=progress, **kw)
    seconds = time.perf_counter() - t0
    job.refresh_from_db()
    contacts = Contact.objects.filter(workspace=workspace).count()
    ledger = ConsentRecord.objects.filter(workspace=workspace).count()
    print(
        f"import {job.status}: created {job.created:,} updated {job.updated:,} skipped {job.skipped:,} "
        f"(expected created {expected.created:,} skipped {expected.skipped:,}); contacts {contacts:,}, "
        f"ledger rows {ledger:,}",
        flush=True,
    )
    if job.created != expected.created or job.skipped != expected.skipped:
        sys.exit("the counts differ from what the generator expects")
    own = resource.getrusage(resource.RUSAGE_SELF)
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)  # the validating helper, once joined
    print(
        f"cpu seconds: runner {own.ru_utime + own.ru_stime:.1f}, helper and migrate "
        f"{helper.ru_utime + helper.ru_stime:.1f}; wall {seconds:.1f}",
        flush=True,
    )
    print(f"rows_per_second={args.rows / seconds:.1f} seconds={seconds:.2f} peak_rss_mb={peak_rss_mb():.1f}")


if __name__ == "__main__":
    main()

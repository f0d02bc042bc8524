"""The CSV import engine: read a file as a stream of records and apply them to a workspace in
batches. The job around it (upload, claims, progress, the runner) is ``audience.import_jobs``.

Reading. The encoding is decided before the run by one cheap pass over the whole file (UTF-8,
with or without a BOM; else Latin-1 with a warning), so that a bad byte near the end never
changes how the first rows were read. The delimiter (comma, semicolon or tab) is the one the
header row uses most. Records are parsed with ``csv`` in strict mode, line by line from the
binary file, so each record's end is a byte offset the job can resume from. A quoted field may
run over at most ``MAX_RECORD_LINES`` lines; one that is never closed (or that swallows lines
into the email, name, language or time zone field) is reported as a broken quote on its first
line, and reading resumes with the line after it. A line is read at most ``MAX_LINE_BYTES`` at a
time: a longer one is skipped to its end, not held in memory, and reported as one bad row.

Checking. Rows are checked with the rules of ``audience.actions`` (``normalise_email`` for the
address, the same language tag, time zone, name and attribute rules), then de-duplicated by the
address's key within the file. Values stay strings: a CSV cell has no type, and guessing one
(``007`` → 7, ``no`` → false) would change data. openesp's own export re-imports unchanged: its
formula guard (a leading ``'``, see ``actions.safe_cell``) is taken off, and a value equal to
the export's text of a stored typed attribute (``3``, ``true``) counts as that value.

Applying. One batch is a few thousand records: the existing contacts, subscriptions and
suppressions of its addresses are read with one query each, and the changes are written with
multi-row statements. Rows that would change nothing write nothing, so importing a file twice
changes nothing the second time.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import re
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import email_validator
from django.db import connection
from django.utils import timezone

from openesp.audience import actions
from openesp.audience.models import (
    ConsentAction,
    ConsentSource,
    ContactStatus,
    ImportMode,
    SubscriptionStatus,
    SuppressionAudit,
    SuppressionReason,
)
from openesp.lib.errors import FieldProblem, InvalidInput

# The same rules as the API's (audience.actions keeps them; the importer checks whole batches
# without building an exception per field).
LANGUAGE_TAG, ATTRIBUTE_KEY, time_zones = actions.LANGUAGE_TAG, actions.ATTRIBUTE_KEY, actions.time_zones
FORMULA_STARTS = actions._FORMULA_STARTS  # what safe_cell guards with a leading '

# Checking the domain of an address is two thirds of email-validator's time (IDNA/UTS-46, per
# character), and it is a pure function of the domain, which an import repeats thousands of
# times (gmail.com…). Memoising it keeps every rule and error exactly as they are, ~3× faster
# (34 → 11 µs an address here). lru_cache does not keep exceptions: a bad domain is checked
# each time. The package's ``validate_email`` names the function in its own module.
_validation = sys.modules[email_validator.validate_email.__module__]
if not hasattr(_validation.validate_email_domain_name, "cache_info"):
    _validation.validate_email_domain_name = functools.lru_cache(maxsize=65536)(  # type: ignore[attr-defined]
        _validation.validate_email_domain_name
    )

MAX_RAW = 2000  # characters of a bad row kept in the report
MAX_RECORD_LINES = 100  # lines one quoted field may run over
# One line is read at most this far: a file that is one huge line must not be held in memory
# (at upload, sniffing, and in the runner). A longer line is read on to its end and not kept.
MAX_LINE_BYTES = 1 << 20
LONG_LINE = "the line is longer than 1 MiB"
MAX_NAME = 200
BOM = codecs.BOM_UTF8
FIELDS = ("email", "name", "language", "time_zone")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_CHUNK = 1 << 20
_IN_CHUNK = 900  # ids or keys per IN (…): under every SQLite build's variable limit

# Header names (lower-case, without spaces, "-", "_" and ".") that mean a field.
SYNONYMS = {
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "epost": "email",
    "epostadress": "email",
    "emailadress": "email",
    "mailadress": "email",
    "name": "name",
    "fullname": "name",
    "namn": "name",
    "language": "language",
    "lang": "language",
    "locale": "language",
    "språk": "language",
    "sprak": "language",
    "timezone": "time_zone",
    "tz": "time_zone",
    "tidszon": "time_zone",
}
# Columns of openesp's own contact export that an import does not take (the export and the
# import should round-trip without surprises, so these are named rather than unknown).
EXPORT_ONLY = {"status", "lists"}


class ImportRefused(InvalidInput):
    """The file cannot be imported at all (not CSV text, no header, no address column)."""


# --- the file: encoding, delimiter, header -----------------------------------------------------


@dataclass
class Sniffed:
    encoding: str  # a Python codec: "utf-8" or "latin-1"
    delimiter: str
    header: list[str]
    data_offset: int  # where the first record after the header starts
    lines: int  # physical lines after the header (the row count, unless fields span lines)
    samples: list[list[str]]
    warnings: list[str] = field(default_factory=list)


def _utf8_or_latin1(path: Path) -> tuple[str, int, int | None]:
    """One streaming pass: ``(encoding, newlines, offset of the first bad UTF-8 byte)``."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    bad: int | None = None
    newlines = 0
    position = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            newlines += chunk.count(b"\n")
            if bad is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = position + exc.start
            position += len(chunk)
        if bad is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                bad = position - len(exc.object) + exc.start
    return ("latin-1" if bad is not None else "utf-8"), newlines, bad


def _delimiter(line: str) -> str:
    outside = re.sub(r'"[^"]*"', "", line)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def sniff(path: Path, *, samples: int = 3) -> Sniffed:
    """Encoding, delimiter, header and a few sample rows; ImportRefused when it is not CSV text."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRefused.one("file", 'is UTF-16 text; save it as CSV in UTF-8 ("CSV UTF-8") and upload that')
    if b"\0" in head:
        raise ImportRefused.one("file", "is not a text file")
    encoding, newlines, bad = _utf8_or_latin1(path)
    warnings = []
    if bad is not None:
        warnings.append(f"The file is not valid UTF-8 (the first bad byte is at offset {bad}); it was read as Latin-1.")
    start = len(BOM) if head.startswith(BOM) else 0
    with path.open("rb") as f:
        f.seek(start)
        first = f.readline(64 * 1024).decode(encoding, "replace")
    delimiter = _delimiter(first)
    reader = Records(path, encoding, delimiter, start, 0, header_width=None)
    records = iter(reader)
    header_record = next(records, None)
    if header_record is not None and header_record.problem == LONG_LINE:
        raise ImportRefused.one("file", "has a header line longer than 1 MiB: is it a CSV file?")
    if header_record is None or header_record.fields is None or not any(c.strip() for c in header_record.fields):
        raise ImportRefused.one("file", "has no header row (the first line names the columns, e.g. email,name)")
    header = [c.strip() for c in header_record.fields]
    reader.header_width = len(header)
    rows: list[list[str]] = []
    for record in records:
        if len(rows) >= samples:
            break
        if record.fields:
            rows.append(record.fields)
    return Sniffed(
        encoding=encoding,
        delimiter=delimiter,
        header=header,
        data_offset=header_record.end,
        lines=max(newlines - header_record.lines + (0 if _ends_with_newline(path) else 1), 0),
        samples=rows,
        warnings=warnings,
    )


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


# --- mapping -----------------------------------------------------------------------------------


def _squash(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name.strip().lower())


def auto_mapping(header: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """A target for each column (``email``, ``name``…, ``attributes.<name>`` or ``""``), and
    warnings about the columns left out."""
    mapping: dict[str, str] = {}
    warnings: list[str] = []
    taken: set[str] = set()
    for column in header:
        if column in mapping:
            continue  # a repeated header name: only the first is mapped
        lower = column.strip().lower()
        target = SYNONYMS.get(_squash(column), "")
        if not target and lower.startswith("attributes."):
            target = "attributes." + column.strip()[len("attributes.") :]
            if not ATTRIBUTE_KEY.match(target.split(".", 1)[1]):
                target = ""
        if not target and lower not in EXPORT_ONLY and ATTRIBUTE_KEY.match(column.strip()):
            target = "attributes." + column.strip()
        if target in taken:
            target = ""
        if target:
            taken.add(target)
        elif lower in EXPORT_ONLY:
            warnings.append(f"The column {column!r} is not imported.")
        else:
            warnings.append(
                f"The column {column!r} is ignored: attribute names are letters, digits, _ and -, "
                "at most 64, not a digit first."
            )
        mapping[column] = target
    return mapping, warnings


def check_mapping(header: Sequence[str], mapping: object, field_name: str = "mapping") -> dict[str, str]:
    """The caller's mapping, validated against the header: every target once, one email column."""
    if not isinstance(mapping, dict):
        raise InvalidInput.one(field_name, "must be an object of CSV column names to fields")
    problems: list[FieldProblem] = []
    clean: dict[str, str] = {}
    seen: set[str] = set()
    for column, target in mapping.items():
        where = f"{field_name}.{column}"
        if column not in header:
            problems.append(FieldProblem(where, "is not a column of the file"))
            continue
        if target in (None, ""):
            clean[column] = ""
            continue
        if not isinstance(target, str) or not (
            target in FIELDS or (target.startswith("attributes.") and ATTRIBUTE_KEY.match(target[11:]))
        ):
            problems.append(
                FieldProblem(where, "must be email, name, language, time_zone, attributes.<name> or empty (ignore)")
            )
            continue
        if target in seen:
            problems.append(FieldProblem(where, f"{target} is mapped from another column already"))
            continue
        seen.add(target)
        clean[column] = target
    if not problems and "email" not in seen:
        problems.append(FieldProblem(field_name, "one column must be mapped to email"))
    if problems:
        raise InvalidInput(problems)
    return {column: clean.get(column, "") for column in header}


# --- records -----------------------------------------------------------------------------------


@dataclass
class Record:
    row: int  # 1 is the first record after the header
    fields: list[str] | None  # None: unreadable (the reason is in ``problem``)
    data: bytes  # as in the file
    encoding: str
    end: int  # byte offset just after it: where reading resumes
    lines: int = 1
    problem: str = ""

    @property
    def raw(self) -> str:
        """The record as read, for the report (decoded only for the rows that go there)."""
        return self.data.decode(self.encoding, "replace").rstrip("\r\n")[:MAX_RAW]


class _Runaway(Exception):
    """A quoted field ran over MAX_RECORD_LINES lines."""


class _LongLine(Exception):
    """A line over MAX_LINE_BYTES (skipped to its end; only its beginning is kept)."""


class _Lines:
    """The file's lines, decoded, each remembered with its offset until its record is complete;
    lines of a record found broken are pushed back to be read again."""

    def __init__(self, f: IO[bytes], encoding: str, offset: int) -> None:
        self.f = f
        self.encoding = encoding
        self.offset = offset
        self.pending: deque[tuple[int, bytes]] = deque()
        self.record: list[tuple[int, bytes]] = []
        self.long: dict[int, int] = {}  # start of a line over MAX_LINE_BYTES → its end

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _Runaway
        if self.pending:
            start, raw = self.pending.popleft()
        else:
            raw = self.f.readline(MAX_LINE_BYTES)
            if not raw:
                raise StopIteration
            start = self.offset
            self.offset += len(raw)
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while chunk := self.f.readline(_CHUNK):
                    self.offset += len(chunk)
                    if chunk.endswith(b"\n"):
                        break
                self.long[start] = self.offset
                raw = raw[: MAX_RAW * 4]  # enough for the report
        self.record.append((start, raw))
        if start in self.long:
            raise _LongLine
        return raw.decode(self.encoding, "replace")

    def take(self) -> list[tuple[int, bytes]]:
        lines, self.record = self.record, []
        return lines


class Records:
    """The records of a file from ``offset`` on, numbered from ``row + 1``."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        delimiter: str,
        offset: int,
        row: int,
        *,
        header_width: int | None,
        strict_columns: Sequence[int] = (),
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self.offset = offset
        self.row = row
        self.header_width = header_width
        # Columns that never hold a line break: a record that puts one there lost a quote.
        self.strict_columns = tuple(strict_columns)

    def __iter__(self) -> Iterator[Record]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            lines = _Lines(f, self.encoding, self.offset)
            while True:
                reader = csv.reader(lines, delimiter=self.delimiter, strict=True)
                try:
                    for fields in reader:
                        taken = lines.take()
                        if len(taken) > 1 and self._lost_quote(fields):
                            reason = "unreadable CSV: a quoted field is not closed on this line"
                            yield self._broken(lines, taken, reason)
                            continue
                        self.row += 1
                        start, raw = taken[-1]
                        data = raw if len(taken) == 1 else b"".join(line for _start, line in taken)
                        yield Record(self.row, fields, data, self.encoding, start + len(raw), len(taken))
                    return
                except _LongLine:
                    taken = lines.take()
                    if len(taken) > 1:  # a record running into it lost a quote
                        yield self._broken(lines, taken, "unreadable CSV: a quoted field is not closed on this line")
                        continue
                    start, raw = taken[0]
                    self.row += 1
                    yield Record(self.row, None, raw, self.encoding, lines.long[start], 1, problem=LONG_LINE)
                except _Runaway:
                    reason = f"unreadable CSV: a quoted field is not closed within {MAX_RECORD_LINES} lines"
                    yield self._broken(lines, lines.take(), reason)
                except csv.Error as exc:
                    taken = lines.take()
                    if not taken:
                        return
                    text = str(exc)
                    if "unexpected end of data" in text or len(taken) > 1:
                        text = "a quoted field is not closed"
                    yield self._broken(lines, taken, f"unreadable CSV: {text}")

    def _lost_quote(self, fields: list[str]) -> bool:
        if self.header_width is not None and len(fields) != self.header_width:
            return True
        return any(i < len(fields) and ("\n" in fields[i] or "\r" in fields[i]) for i in self.strict_columns)

    def _broken(self, lines: _Lines, taken: list[tuple[int, bytes]], reason: str) -> Record:
        """Report the first line of a broken record; read the lines after it again."""
        lines.pending.extendleft(reversed(taken[1:]))
        self.row += 1
        start, raw = taken[0]
        return Record(self.row, None, raw, self.encoding, start + len(raw), 1, problem=reason)


# --- checking rows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How a job's records become contacts: column positions and what to do with them."""

    workspace_id: int
    list_id: int
    list_name: str
    double_opt_in: bool
    mode: str
    width: int
    email: int
    profile: tuple[tuple[str, int], ...]  # ("name", column), ("language", …), ("time_zone", …)
    attributes: tuple[tuple[str, int], ...]  # (attribute name, column)
    consent_detail: str
    consent_text_version: str
    actor_id: int | None
    job_id: int

    @classmethod
    def build(cls, header: Sequence[str], mapping: dict[str, str], **kw: Any) -> Plan:
        index = {column: i for i, column in reversed(list(enumerate(header)))}
        targets = {target: index[column] for column, target in mapping.items() if target and column in index}
        return cls(
            width=len(header),
            email=targets["email"],
            profile=tuple((name, targets[name]) for name in FIELDS[1:] if name in targets),
            attributes=tuple((target[11:], i) for target, i in targets.items() if target.startswith("attributes.")),
            **kw,
        )

    @property
    def strict_columns(self) -> tuple[int, ...]:
        return (self.email, *(i for _name, i in self.profile))


@dataclass
class Row:
    """A record that passed the checks that need no database."""

    row: int
    record: Record
    address: str
    profile: dict[str, str]
    attributes: dict[str, str]
    email: str = ""
    key: str = ""
    hash: str = ""  # the consent ledger's name for the address


def _unguard(value: str) -> str:
    """The inverse of ``actions.safe_cell``: openesp's own export writes ``'=…`` for ``=…``, so
    that a spreadsheet does not run it; the ``'`` is not part of the value."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def check_record(plan: Plan, record: Record) -> Row | str | None:
    """The row, or why it is skipped; None for a blank line (nothing to do, nothing to report)."""
    if record.fields is None:
        return record.problem
    fields = record.fields
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        return None
    if len(fields) != plan.width:
        return f"has {len(fields)} fields; the header has {plan.width}"
    address = _unguard(fields[plan.email].strip())
    if not address:
        return "email: is required"
    if len(address) > 320:
        return "email: is longer than 320 characters"
    profile: dict[str, str] = {}
    for name, i in plan.profile:
        value = _unguard(fields[i].strip())
        if not value:
            continue  # an empty cell leaves the field as it is
        if name == "name" and (len(value) > MAX_NAME or not value.isprintable()):
            return f"name: must be printable text of at most {MAX_NAME} characters"
        if name == "language" and (len(value) > 35 or not LANGUAGE_TAG.match(value)):
            return "language: must be a language tag such as en, sv or pt-BR"
        if name == "time_zone" and value not in time_zones():
            return "time_zone: must be an IANA time zone such as Europe/Stockholm"
        profile[name] = value
    attributes: dict[str, str] = {}
    for name, i in plan.attributes:
        value = _unguard(fields[i].strip())
        if not value:
            continue
        if len(value) > actions.MAX_ATTRIBUTE_LENGTH:
            return f"attributes.{name}: is longer than {actions.MAX_ATTRIBUTE_LENGTH} characters"
        attributes[name] = value
    return Row(record.row, record, address, profile, attributes)


Validated = tuple[str, str, str] | str


def validate_addresses(addresses: Sequence[str], workspace_id: int) -> list[Validated]:
    """``(email, key, ledger hash)`` per address, or the reason it is not valid: the rules of
    ``normalise_email``, the hash of ``email_hash`` (both are pure; a helper process runs this)."""
    out: list[Validated] = []
    for address in addresses:
        try:
            email, key = actions.normalise_email(address)
        except InvalidInput as exc:
            out.append(f"email: {exc.problems[0].reason}")
        else:
            out.append((email, key, actions.email_hash(workspace_id, key)))
    return out


# --- applying a batch --------------------------------------------------------------------------


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (row, reason, raw)

    def skip(self, row: int, reason: str, raw: str) -> None:
        self.skipped += 1
        self.problems.append((row, reason[:300], raw))


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _as_exported(value: object) -> object:
    """A stored attribute as openesp's export writes it: a CSV value equal to that is the same
    value (``3``, ``true``), and the stored type stays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _json(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}


class _Cursor:
    """A DB-API cursor of the driver itself, for statements written with ``%s``, on the
    connection (and in the transaction) Django has open.

    Not Django's: on SQLite its wrapper rewrites every ``%s`` with a regular expression (~0.5 ms
    on a statement with a few thousand parameters); on PostgreSQL Django binds on the client,
    quoting each parameter into the SQL in Python, which made a batch ~4× slower than sending
    the parameters apart (server-side binding), as a plain psycopg cursor does."""

    def __init__(self) -> None:
        self.sqlite = connection.vendor == "sqlite"
        connection.ensure_connection()
        if self.sqlite:
            self.cursor: Any = connection.connection.cursor()
        else:
            import psycopg

            self.cursor = psycopg.Cursor(connection.connection)

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.sqlite else sql

    # The driver's errors become Django's (IntegrityError…), which the job's retry catches.
    def execute(self, sql: str, params: Sequence[Any]) -> None:
        with connection.wrap_database_errors:
            self.cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        with connection.wrap_database_errors:
            self.cursor.executemany(self._sql(sql), params)

    def fetchall(self) -> list[tuple[Any, ...]]:
        with connection.wrap_database_errors:
            return list(self.cursor.fetchall())


def _insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Bulk INSERT: COPY on PostgreSQL; on SQLite multi-row statements of a few hundred rows."""
    if not rows:
        return
    # Only our own table and column names are interpolated; the values are parameters.
    names = ", ".join(columns)
    with _Cursor() as cursor:
        if not cursor.sqlite:
            # COPY: psycopg parses a statement's placeholders in Python, which for thousands of
            # parameters cost more than the insert itself.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for chunk in _chunks(rows, max(1, min(500, 30000 // len(columns)))):
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])


def _select_in(sql: str, fixed: Sequence[Any], values: Sequence[Any], array: str = "text") -> list[tuple[Any, ...]]:
    """``sql`` with ``IN ({in_})`` matching ``values``: an array parameter on PostgreSQL, a list of
    parameters (in chunks, under SQLite's limit) on SQLite."""
    out: list[tuple[Any, ...]] = []
    with _Cursor() as cursor:
        if not cursor.sqlite:
            # The array's type named: psycopg sends small ids as smallint[], and compared with
            # that the bigint column's index went unused (a scan of the table per batch).
            cursor.execute(sql.replace("IN ({in_})", f"= ANY(CAST(%s AS {array}[]))"), [*fixed, list(values)])
            return cursor.fetchall()
        for chunk in _chunks(values, _IN_CHUNK):
            cursor.execute(sql.format(in_=", ".join(["%s"] * len(chunk))), [*fixed, *chunk])
            out.extend(cursor.fetchall())
    return out


def _next_ids(table: str, count: int) -> list[int]:
    """``count`` fresh ids from the sequence of ``table``'s id column (PostgreSQL)."""
    with _Cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


# Plain strings, looked up once: enum members cost an attribute lookup each, a million times.
_ACTIVE = ContactStatus.ACTIVE.value
_SUBSCRIBED = SubscriptionStatus.SUBSCRIBED.value
_IMPORT = ConsentSource.IMPORT.value  # also the ledger action (ConsentAction.IMPORT)
assert ConsentAction.IMPORT.value == _IMPORT
_json_text = json.JSONEncoder().encode  # what json.dumps does with its defaults, without the call

# An old export must not bring back a person who had themselves erased (decision 004); they
# come back by subscribing again, or by being added by hand.
ERASED = "erased earlier at the person's request (GDPR); add them by hand if they have consented again"

_CONTACT = "audience_contact"
_SUBSCRIPTION = "audience_subscription"
_CONSENT = "audience_consentrecord"
_SUPPRESSION = "audience_suppression"
_AUDIT = "audience_suppressionaudit"
_PROBLEM = "audience_importproblem"


class Applier:
    """Writes one batch of checked rows for a plan; call inside the batch's transaction."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"

    def apply(self, rows: list[Row], outcome: Outcome) -> None:
        keys = [r.key for r in rows]
        if not keys:
            return
        contacts = {
            row[1]: row
            for row in _select_in(
                f"SELECT id, email_key, name, language, time_zone, attributes, status FROM {_CONTACT} "  # noqa: S608
                "WHERE workspace_id = %s AND email_key IN ({in_})",
                [self.plan.workspace_id],
                keys,
            )
        }
        if self.plan.mode == ImportMode.SUBSCRIBE:
            self._subscribe(rows, contacts, outcome)
        elif self.plan.mode == ImportMode.UPDATE:
            self._update(rows, contacts, outcome)
        else:
            self._unsubscribe(rows, contacts, outcome)

    # -- shared pieces

    def _now(self) -> Any:
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def _subscriptions(self, contact_ids: list[int]) -> dict[int, tuple[int, str]]:
        rows = _select_in(
            f"SELECT contact_id, id, status FROM {_SUBSCRIPTION} "  # noqa: S608
            "WHERE contact_list_id = %s AND contact_id IN ({in_})",
            [self.plan.list_id],
            contact_ids,
            array="bigint",
        )
        return {contact_id: (sid, status) for contact_id, sid, status in rows}

    def _changes(self, row: Row, contact: tuple[Any, ...]) -> dict[str, Any]:
        """The fields of an existing contact the row changes (``attributes`` merged)."""
        _id, _key, name, language, time_zone, attributes, _status = contact
        now = {"name": name, "language": language, "time_zone": time_zone}
        changes: dict[str, Any] = {k: v for k, v in row.profile.items() if now[k] != v}
        if row.attributes:
            present = _json(attributes)
            changed = {k: v for k, v in row.attributes.items() if _as_exported(present.get(k)) != v}
            if changed:
                changes["attributes"] = {**present, **changed}
        return changes

    def _update_contacts(self, updates: list[tuple[int, dict[str, Any]]], stamp: Any) -> None:
        """One UPDATE per contact that changed, grouped by the columns changed."""
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for contact_id, changes in updates:
            columns = tuple(sorted(changes))
            values = [json.dumps(changes[c]) if c == "attributes" else changes[c] for c in columns]
            groups.setdefault(columns, []).append([*values, stamp, contact_id])
        with _Cursor() as cursor:
            for columns, params in groups.items():
                sets = ", ".join(f"{c} = {self.json_param if c == 'attributes' else '%s'}" for c in columns)
                cursor.executemany(
                    f"UPDATE {_CONTACT} SET {sets}, updated_at = %s WHERE id = %s",  # noqa: S608
                    params,
                )

    def _ledger(self, entries: list[tuple[int, str, str, bool]], stamp: Any) -> None:
        """Consent records: (contact id, address hash, action, about the list)."""
        p = self.plan
        _insert(
            _CONSENT,
            [
                "workspace_id", "contact_id", "email_hash", "action", "contact_list_id", "list_name", "topic_name",
                "source", "source_detail", "consent_text_version", "actor_id", "created_at",
            ],
            [
                [
                    p.workspace_id, contact_id, hashed, action, p.list_id if on_list else None,
                    p.list_name if on_list else "", "", _IMPORT, p.consent_detail, p.consent_text_version,
                    p.actor_id, stamp,
                ]
                for contact_id, hashed, action, on_list in entries
            ],
        )  # fmt: skip

    def _suppressed(self, keys: list[str], *, including_global: bool) -> set[str]:
        scope = "(workspace_id = %s OR workspace_id IS NULL)" if including_global else "workspace_id = %s"
        return {
            key
            for (key,) in _select_in(
                f"SELECT email FROM {_SUPPRESSION} WHERE {scope} AND email IN ({{in_}})",  # noqa: S608
                [self.plan.workspace_id],
                keys,
            )
        }

    def _erased(self, hashes: list[str]) -> set[str]:
        """The hashes among ``hashes`` of addresses erased from the workspace (GDPR)."""
        if not hashes:
            return set()
        return {
            hashed
            for (hashed,) in _select_in(
                f"SELECT email_hash FROM {_CONSENT} WHERE workspace_id = %s AND action = %s "  # noqa: S608
                "AND email_hash IN ({in_})",
                [self.plan.workspace_id, ConsentAction.ERASE.value],
                hashes,
            )
        }

    # -- modes

    def _subscribe(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        p = self.plan
        stamp = self._now()
        hashes = {r.key: r.hash for r in rows}
        suppressed = self._suppressed([r.key for r in rows], including_global=True)
        erased = self._erased([r.hash for r in rows if r.key not in contacts])
        subscriptions = self._subscriptions([c[0] for c in contacts.values()])
        new_rows: list[Row] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        new_subscriptions: list[tuple[int, str]] = []  # (contact id, key)
        for row in rows:
            if row.key in suppressed:
                outcome.skip(row.row, "suppressed", row.record.raw)
                continue
            contact = contacts.get(row.key)
            if contact is None:
                if row.hash in erased:
                    outcome.skip(row.row, ERASED, row.record.raw)
                else:
                    new_rows.append(row)
                continue
            contact_id, status = contact[0], contact[6]
            if status != ContactStatus.ACTIVE:
                outcome.skip(row.row, f"the contact's status is {status}", row.record.raw)
                continue
            subscription = subscriptions.get(contact_id)
            if subscription is not None and subscription[1] == SubscriptionStatus.UNSUBSCRIBED:
                outcome.skip(row.row, "unsubscribed from this list earlier", row.record.raw)
                continue
            changes = self._changes(row, contact)
            if changes:
                updates.append((contact_id, changes))
            # A pending subscription (double opt-in) stays pending: the person has not confirmed,
            # and an import is not their word.
            if subscription is None:
                new_subscriptions.append((contact_id, row.key))
            if changes or subscription is None:
                outcome.updated += 1
        columns = ["workspace_id", "email", "email_key", "name", "language", "time_zone", "attributes", "status",
                   "created_at", "updated_at"]  # fmt: skip
        values = [
            [p.workspace_id, r.email, r.key, r.profile.get("name", ""), r.profile.get("language", ""),
             r.profile.get("time_zone", ""), _json_text(r.attributes), _ACTIVE, stamp, stamp]
            for r in new_rows
        ]  # fmt: skip
        if connection.vendor == "postgresql" and new_rows:
            # Ids drawn from the table's own sequence first: COPY returns nothing, and reading the
            # new rows back by address cost as much as finding the existing ones.
            ids = _next_ids(_CONTACT, len(new_rows))
            _insert(_CONTACT, ["id", *columns], [[i, *v] for i, v in zip(ids, values, strict=True)])
            created: list[tuple[Any, ...]] = [(i, r.key) for i, r in zip(ids, new_rows, strict=True)]
        else:
            _insert(_CONTACT, columns, values)
            created = _select_in(
                f"SELECT id, email_key FROM {_CONTACT} WHERE workspace_id = %s AND email_key IN ({{in_}})",  # noqa: S608
                [p.workspace_id],
                [r.key for r in new_rows],
            )
        outcome.created += len(created)
        new_subscriptions += [(contact_id, key) for contact_id, key in created]
        self._update_contacts(updates, stamp)
        _insert(
            _SUBSCRIPTION,
            ["contact_id", "contact_list_id", "status", "created_at", "updated_at", "confirmed_at"],
            [[cid, p.list_id, _SUBSCRIBED, stamp, stamp, stamp] for cid, _k in new_subscriptions],
        )
        # The importer attests the consent: one ledger row per subscription it makes.
        self._ledger([(cid, hashes[key], _IMPORT, True) for cid, key in new_subscriptions], stamp)

    def _update(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        updates: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            contact = contacts.get(row.key)
            if contact is None:
                outcome.skip(row.row, "not a contact", row.record.raw)
                continue
            changes = self._changes(row, contact)
            if changes:
                updates.append((contact[0], changes))
                outcome.updated += 1
        self._update_contacts(updates, self._now())

    def _unsubscribe(self, rows: list[Row], contacts: dict[str, tuple[Any, ...]], outcome: Outcome) -> None:
        p = self.plan
        stamp = self._now()
        suppressed = self._suppressed([r.key for r in rows], including_global=False)
        subscriptions = self._subscriptions([c[0] for c in contacts.values()])
        ended: list[int] = []
        status_changed: list[int] = []
        ledger: list[tuple[int, str, str, bool]] = []
        new_suppressions: list[str] = []
        for row in rows:
            contact = contacts.get(row.key)
            newly_suppressed = row.key not in suppressed
            if newly_suppressed:
                new_suppressions.append(row.key)
                suppressed.add(row.key)
            if contact is None:
                if newly_suppressed:
                    outcome.created += 1
                continue
            contact_id, status = contact[0], contact[6]
            subscription = subscriptions.get(contact_id)
            ends = subscription is not None and subscription[1] != SubscriptionStatus.UNSUBSCRIBED
            if ends:
                ended.append(subscription[0])  # type: ignore[index]
            if status == ContactStatus.ACTIVE:
                status_changed.append(contact_id)
            if ends or status == ContactStatus.ACTIVE:
                ledger.append((contact_id, row.hash, ConsentAction.UNSUBSCRIBE.value, ends))
            if ends or status == ContactStatus.ACTIVE or newly_suppressed:
                outcome.updated += 1
        with _Cursor() as cursor:
            if ended:
                cursor.executemany(
                    f"UPDATE {_SUBSCRIPTION} SET status = %s, updated_at = %s, unsubscribed_at = %s "  # noqa: S608
                    "WHERE id = %s",
                    [[SubscriptionStatus.UNSUBSCRIBED.value, stamp, stamp, sid] for sid in ended],
                )
            if status_changed:
                cursor.executemany(
                    f"UPDATE {_CONTACT} SET status = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                    [[ContactStatus.UNSUBSCRIBED.value, stamp, cid] for cid in status_changed],
                )
        detail = p.consent_detail
        _insert(
            _SUPPRESSION,
            ["workspace_id", "email", "reason", "detail", "source", "created_at", "created_by_id"],
            [[p.workspace_id, key, SuppressionReason.UNSUBSCRIBE.value, detail, "import", stamp, p.actor_id]
             for key in new_suppressions],
        )  # fmt: skip
        _insert(
            _AUDIT,
            ["workspace_id", "email", "action", "reason", "source", "source_detail", "actor_id", "created_at"],
            [[p.workspace_id, key, SuppressionAudit.Action.ADD.value, SuppressionReason.UNSUBSCRIBE.value, "import",
              detail, p.actor_id, stamp] for key in new_suppressions],
        )  # fmt: skip
        self._ledger(ledger, stamp)


def write_problems(job_id: int, problems: list[tuple[int, str, str]]) -> None:
    _insert(_PROBLEM, ["job_id", "row_number", "reason", "raw"], [[job_id, r, why, raw] for r, why, raw in problems])

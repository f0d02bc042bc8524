"""Reading an import file: its encoding, delimiter and header, then its records one by one.

The encoding is decided before the run by one cheap pass over the whole file (UTF-8, with or
without a BOM; else Latin-1 with a warning), so that a bad byte near the end never changes how
the first rows were read. The delimiter (comma, semicolon or tab) is the one the header row uses
most. Records are parsed with ``csv`` in strict mode, line by line from the binary file, so each
record's end is a byte offset the job can resume from. A quoted field may run over at most
``MAX_RECORD_LINES`` lines; one that is never closed (or that swallows lines into the email,
name, language or time zone field) is reported as a broken quote on its first line, and reading
resumes with the line after it. A line is read at most ``MAX_LINE_BYTES`` at a time: a longer
one is skipped to its end, not held in memory, and reported as one bad row.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from openesp.lib.errors import InvalidInput

MAX_RAW = 2000  # characters of a bad row kept in the report
MAX_RECORD_LINES = 100  # lines one quoted field may run over
# One line is read at most this far: a file that is one huge line must not be held in memory
# (at upload, sniffing, and in the runner). A longer line is read on to its end and not kept.
MAX_LINE_BYTES = 1 << 20
LONG_LINE = "the line is longer than 1 MiB"
BOM = codecs.BOM_UTF8
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_CHUNK = 1 << 20


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


# --- records -----------------------------------------------------------------------------------


@dataclass(slots=True)
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
        return raw_text(self.data, self.encoding)


def raw_text(data: bytes, encoding: str) -> str:
    """A record as read, for the report (decoded only for the rows that go there)."""
    return data.decode(encoding, "replace").rstrip("\r\n")[:MAX_RAW]


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

"""Checking rows: what can be known about a record without the database.

Rows are checked with the rules of ``audience.actions`` (``normalise_email`` for the address,
the same language tag, time zone, name and attribute rules), then de-duplicated by the address's
key within the file (by the runner). Values stay strings: a CSV cell has no type, and guessing
one (``007`` → 7, ``no`` → false) would change data. openesp's own export re-imports unchanged:
its formula guard (a leading ``'``, see ``lib.downloads.safe_cell``) is taken off here.

``validate_addresses`` is pure (it needs the settings, not the database), so a helper process
can run it beside the runner for a large file.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import email_validator

from openesp.audience import actions
from openesp.audience.consent import email_hash
from openesp.audience.imports.mapping import FIELDS
from openesp.audience.imports.read import Record, raw_text
from openesp.lib.downloads import FORMULA_STARTS  # what safe_cell guards with a leading '
from openesp.lib.errors import InvalidInput

# The same rules as the API's (audience.actions keeps them; the importer checks whole batches
# without building an exception per field).
LANGUAGE_TAG, time_zones = actions.LANGUAGE_TAG, actions.time_zones

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
MAX_NAME = 200


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


@dataclass(slots=True)
class Row:
    """A record that passed the checks that need no database."""

    row: int
    # The record's bytes, not the record: a batch in hand holds tens of thousands of rows, and
    # the record's fields (already checked into what follows) were a third of a row's memory.
    data: bytes
    encoding: str
    address: str
    profile: dict[str, str]
    attributes: dict[str, str]
    email: str = ""
    key: str = ""
    hash: str = ""  # the consent ledger's name for the address

    @property
    def raw(self) -> str:
        return raw_text(self.data, self.encoding)


def _unguard(value: str) -> str:
    """The inverse of ``lib.downloads.safe_cell``: openesp's own export writes ``'=…`` for ``=…``, so
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
    return Row(record.row, record.data, record.encoding, address, profile, attributes)


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
            out.append((email, key, email_hash(workspace_id, key)))
    return out

"""Mapping an import file's columns to contact fields: guessed from the header names (in English
and Swedish, and openesp's own export), or given by the caller and checked against the header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from openesp.audience import actions
from openesp.lib.errors import FieldProblem, InvalidInput

ATTRIBUTE_KEY = actions.ATTRIBUTE_KEY
FIELDS = ("email", "name", "language", "time_zone")

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
# A first name is the contact's name when the file has no column for the whole name (a contact has
# one name field); a last name is kept as an attribute beside it.
FIRST_NAMES = frozenset({"firstname", "givenname", "forename", "förnamn", "fornamn", "tilltalsnamn"})
LAST_NAMES = frozenset({"lastname", "surname", "familyname", "efternamn"})
# Columns of openesp's own contact export that an import does not take (the export and the
# import should round-trip without surprises, so these are named rather than unknown).
EXPORT_ONLY = {"status", "lists"}


# --- mapping -----------------------------------------------------------------------------------


def _squash(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name.strip().lower())


def auto_mapping(header: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """A target for each column (``email``, ``name``…, ``attributes.<name>`` or ``""``), and
    warnings about the columns left out."""
    mapping: dict[str, str] = {}
    warnings: list[str] = []
    taken: set[str] = set()
    has_full_name = any(SYNONYMS.get(_squash(column)) == "name" for column in header)
    for column in header:
        if column in mapping:
            continue  # a repeated header name: only the first is mapped
        lower = column.strip().lower()
        target = SYNONYMS.get(_squash(column), "")
        if not target and _squash(column) in FIRST_NAMES:
            target = "attributes.first_name" if has_full_name else "name"
        elif not target and _squash(column) in LAST_NAMES:
            target = "attributes.last_name"
        if not target and lower.startswith("attributes."):
            target = "attributes." + column.strip()[len("attributes.") :]
            if not ATTRIBUTE_KEY.match(target.split(".", 1)[1]):
                target = ""
        if not target and lower not in EXPORT_ONLY and ATTRIBUTE_KEY.match(column.strip()):
            target = "attributes." + column.strip()
        # Folded: "Country" and "country" are one attribute (audience.attribute_keys).
        repeated = bool(target) and target.casefold() in taken
        if repeated:
            target = ""
        if target:
            taken.add(target.casefold())
        elif repeated:
            warnings.append(f"The column {column!r} is ignored: another column holds the same field or attribute.")
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
        if target.casefold() in seen:  # attribute names compare folded: Country is country
            problems.append(FieldProblem(where, f"{target} is mapped from another column already"))
            continue
        seen.add(target.casefold())
        clean[column] = target
    if not problems and "email" not in seen:
        problems.append(FieldProblem(field_name, "one column must be mapped to email"))
    if problems:
        raise InvalidInput(problems)
    return {column: clean.get(column, "") for column in header}

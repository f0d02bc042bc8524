"""Attribute names are compared case-folded and stored as first written.

A workspace holds one spelling per attribute name (``AttributeKey``): the first one written, by
the API, a page or an import. Every writer of ``Contact.attributes`` maps its keys through
``canonical`` (or, for an import, the header once per job through ``register``), so the JSON of
every contact holds that one spelling; every reader that names an attribute (filters, segments,
automations, the export) looks the name up through ``spelling`` first. ``country``, ``COUNTRY``
and ``Country`` are then one attribute, kept as ``Country`` when that was written first.
See docs/decisions/009-attribute-keys-fold-case.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openesp.audience.models import AttributeKey
from openesp.lib.errors import InvalidInput


def fold(name: str) -> str:
    """The form names are compared in."""
    return name.casefold()


def check_distinct(names: Iterable[str], field: str = "attributes") -> None:
    """InvalidInput naming ``field`` when two of ``names`` are one attribute (fold equal): which
    of the values was meant cannot be known, so neither is written."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(fold(name), name)
        if other != name:
            raise InvalidInput.one(
                field, f'"{other}" and "{name}" name the same attribute (names are compared ignoring case)'
            )


def spellings(workspace_id: int, names: Iterable[str]) -> dict[str, str]:
    """The workspace's spelling of those of ``names`` it has, by folded name."""
    folded = {fold(n) for n in names}
    if not folded:
        return {}
    return dict(AttributeKey.objects.filter(workspace_id=workspace_id, folded__in=folded).values_list("folded", "name"))


def workspace_spellings(workspace_id: int) -> dict[str, str]:
    """All of the workspace's spellings, by folded name."""
    return dict(AttributeKey.objects.filter(workspace_id=workspace_id).values_list("folded", "name"))


def spelling(workspace_id: int, name: str) -> str:
    """The workspace's spelling of ``name``; ``name`` itself when no contact was ever given it."""
    return spellings(workspace_id, [name]).get(fold(name), name)


def register(workspace_id: int, names: Iterable[str]) -> dict[str, str]:
    """The workspace's spelling of each of ``names`` by folded name, making the new ones the
    spelling they are written in here (the first of ``names`` that folds to it).

    Safe against a concurrent writer: a name someone else registered meanwhile is skipped by the
    unique (workspace, folded) index and read back, so both end up with the one spelling."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(fold(name), name)
    known = spellings(workspace_id, wanted.values())
    new = [AttributeKey(workspace_id=workspace_id, folded=f, name=n) for f, n in wanted.items() if f not in known]
    if new:
        AttributeKey.objects.bulk_create(new, ignore_conflicts=True)
        known = spellings(workspace_id, wanted.values())
    return known


def canonical(workspace_id: int, attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` (checked, no two keys folding equal) with each key in the workspace's
    spelling. New names are registered; a null value (a removal) only looks its name up. Call it
    in the transaction that writes the contact, so a refused write leaves no name behind."""
    present = register(workspace_id, [k for k, v in attributes.items() if v is not None])
    present |= spellings(workspace_id, [k for k, v in attributes.items() if v is None and fold(k) not in present])
    return {present.get(fold(k), k): v for k, v in attributes.items()}

"""API routes and pages look tenant objects up through the access layer, never by querying a
model themselves.

A tenant model is one owned by a workspace or an organization (directly or through the objects it
belongs to). A module under ``openesp/api/`` or ``openesp/front/views/`` that writes
``<TenantModel>.objects`` fails this test: it should call the access module of the model's app
(``accounts.access``, ``esp.access``, ``messaging.access``, ``audience.access``,
``campaigns.access``: one object by id, answering the same 404 for missing and foreign) or a
read helper that takes a workspace or organization the caller has reached
(``audience.queries``, ``messaging.access.workspace_messages``, ``accounts.access.members_of``).
``.objects.none()`` (an empty queryset, e.g. a form field's placeholder) reads nothing and is
allowed.

ALLOWED lists the exceptions, each with its reason; a new direct query in them still fails
unless it is of a model already named there.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from django.apps import apps
from django.db import models

from openesp.accounts.models import Organization, Workspace

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("openesp/api", "openesp/front/views", "openesp/compat/views")
# Operator commands act for no caller: there is no tenant to go through.
SKIPPED_DIRS = ("management", "migrations")

ALLOWED: dict[str, dict[str, str]] = {
    # The ApiKey model's own code: a key is found by its prefix when it authenticates or when the
    # operator's CLI names it, and otherwise only among the keys of the user passed in.
    "openesp/accounts/apikeys.py": {"ApiKey": "the API-key code itself: keys by prefix, or of the given user"},
}


def tenant_models() -> set[type[models.Model]]:
    """Workspace, Organization, and every model with a foreign key leading to one of them."""
    owned: set[type[models.Model]] = {Workspace, Organization}
    grown = True
    while grown:
        grown = False
        for model in apps.get_models():
            targets = {f.related_model for f in model._meta.concrete_fields if f.many_to_one or f.one_to_one}
            if model not in owned and targets & owned:
                owned.add(model)
                grown = True
    return owned


def _modules() -> list[Path]:
    files: list[Path] = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not set(path.relative_to(ROOT).parts) & set(SKIPPED_DIRS):
                files.append(path)
    return files


def _direct_queries(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` of each ``<Name>.objects`` in the file, but ``<Name>.objects.none()``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    empty = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "none" and isinstance(node.value, ast.Attribute)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "objects" and id(node) not in empty:
            if isinstance(node.value, ast.Name):
                found.append((node.lineno, node.value.id))
            elif isinstance(node.value, ast.Attribute):
                found.append((node.lineno, node.value.attr))
    return found


def test_it_finds_the_tenant_models():
    names = {m.__name__ for m in tenant_models()}
    assert {"Contact", "ContactList", "Subscription", "Topic", "Segment", "ImportJob", "Suppression"} <= names
    assert {"Message", "Membership", "Workspace", "EspConfig"} <= names
    assert "User" not in names


def test_no_api_or_view_module_queries_a_tenant_model_directly():
    tenants = tenant_models()
    offences = []
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        module = importlib.import_module(relative.removesuffix(".py").replace("/", "."))
        allowed = ALLOWED.get(relative, {})
        for line, name in _direct_queries(path):
            model = getattr(module, name, None)
            if model in tenants and name not in allowed:
                offences.append(f"{relative}:{line}: {name}.objects")
    assert not offences, "query through the access module of the model's app: " + ", ".join(offences)


def test_every_exception_is_still_needed():
    # An allow-list entry nobody needs any more is removed, so that the list stays the truth.
    unused = []
    for relative, names in ALLOWED.items():
        used = {name for _line, name in _direct_queries(ROOT / relative)}
        unused += [f"{relative}: {name}" for name in names if name not in used]
    assert not unused

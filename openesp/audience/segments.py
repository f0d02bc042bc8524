"""Segments: saved queries over a workspace's contacts, evaluated in the database.

A query (``segment_syntax``) compiles to one Django ``Q`` over ``Contact``: columns, JSON
attribute lookups and ``Exists`` subqueries for lists, categories and engagement. Values always
travel as query parameters; attribute names are checked against the same rule as contacts' own,
so no text from a user ever becomes SQL.

SQLite and PostgreSQL compare JSON differently (PostgreSQL's jsonb orders a boolean above every
number; SQLite's ``json_extract`` turns ``true`` into 1 and orders any text above any number), so
attributes are compared through the small functions below, which first name the JSON type of the
value. A number compares only with numbers, a text with texts, ``true``/``false`` with booleans;
anything else is simply no match, on both databases alike. Every condition evaluates to true or
false, never SQL NULL, so ``not`` is exactly the complement.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, FloatField, Func, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    In,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import unique_name
from openesp.audience.attribute_keys import fold, spelling, spellings
from openesp.audience.models import Contact, ContactList, ContactTopic, Segment, Subscription, Topic
from openesp.audience.segment_syntax import (
    ATTRIBUTE_KEY,
    VERBS,
    And,
    Compare,
    DaysAgo,
    Engaged,
    HasAttribute,
    InCategory,
    InList,
    Node,
    Not,
    Or,
    QueryError,
    parse,
    parse_when,
)
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Event, Message

_LOOKUPS: dict[str, Any] = {
    "=": Exact,
    "<": LessThan,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    ">=": GreaterThanOrEqual,
    "contains": IContains,
    "starts": IStartsWith,
    "ends": IEndsWith,
}


# --- JSON attributes, the same on both databases -------------------------------------------------


class _Attribute(Func):
    """One attribute of the contact, read per database. ``key`` has passed ``ATTRIBUTE_KEY``."""

    def __init__(self, key: str) -> None:
        super().__init__(F("attributes"))
        self.key = key

    def _sql(self, compiler: SQLCompiler, connection: Any, postgresql: str, sqlite: str) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.get_source_expressions()[0])
        assert not params  # a plain column
        if connection.vendor == "postgresql":
            template, key = postgresql, self.key
        elif connection.vendor == "sqlite":
            template, key = sqlite, f'$."{self.key}"'
        else:  # pragma: no cover - openesp runs on these two
            raise NotImplementedError(connection.vendor)
        return template.format(col=column, key="%s"), [key] * template.count("{key}")


class JsonKind(_Attribute):
    """'string', 'number', 'true', 'false', 'null', 'object', 'array' or 'missing': never NULL."""

    output_field = TextField()

    def as_sql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        return self._sql(
            compiler,
            connection,
            "COALESCE(CASE jsonb_typeof({col} -> {key}::text) WHEN 'boolean' THEN {col} ->> {key}::text "
            "ELSE jsonb_typeof({col} -> {key}::text) END, 'missing')",
            "COALESCE(CASE json_type({col}, {key}) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            "WHEN 'text' THEN 'string' ELSE json_type({col}, {key}) END, 'missing')",
        )


class JsonText(_Attribute):
    """The attribute as text: meaningful where ``JsonKind`` is 'string'."""

    output_field = TextField()

    def as_sql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        return self._sql(compiler, connection, "({col} ->> {key}::text)", "json_extract({col}, {key})")


class JsonNumber(_Attribute):
    """The attribute as a number where it is one, else NULL. PostgreSQL may evaluate a cast before
    the condition beside it, so the cast is guarded here rather than by an AND."""

    output_field = FloatField()

    def as_sql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        return self._sql(
            compiler,
            connection,
            "(CASE WHEN jsonb_typeof({col} -> {key}::text) = 'number' THEN ({col} ->> {key}::text)::float8 END)",
            "(CASE WHEN json_type({col}, {key}) IN ('integer', 'real') THEN json_extract({col}, {key}) END)",
        )


class _ContactAddress(Func):
    """The contact's ``email_key`` (lower-case already) to compare with ``lower(to_email)``.

    On SQLite it is wrapped in LOWER(): that takes away the column's text affinity, without which
    SQLite will not use the (workspace, lower(to_email)) index for the comparison. PostgreSQL gets
    the bare column, so that it can use the contact's own (workspace, email_key) index as well.
    """

    template = "%(expressions)s"
    output_field = TextField()

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, template="LOWER(%(expressions)s)", **extra)


def _kind_is(key: str, *kinds: str) -> Q:
    return Q(In(JsonKind(key), list(kinds)))


def _attribute_compare(key: str, op: str, value: str | int | float | bool) -> Q:
    if isinstance(value, bool):
        return _kind_is(key, "true" if value else "false")
    if isinstance(value, int | float):
        return _kind_is(key, "number") & Q(_LOOKUPS[op](JsonNumber(key), float(value)))
    return _kind_is(key, "string") & Q(_LOOKUPS[op](JsonText(key), value))


def attribute_equals(workspace: Workspace, key: str, value: str, *, field: str) -> Q:
    """The contacts API's ``?attributes.<key>=<value>``: a query string holds only text, so the
    value matches a text attribute, and a number or boolean attribute that it spells; an empty
    value: the attribute exists. ``key`` in any case (the workspace's spelling is looked up);
    ``field`` names the parameter in errors."""
    if not ATTRIBUTE_KEY.match(key):
        raise InvalidInput.one(field, 'is not an attribute name (letters, digits, "_" and "-", at most 64)')
    key = spelling(workspace.pk, key)
    if value == "":
        return ~_kind_is(key, "missing", "null")
    matches = _attribute_compare(key, "=", value)
    if value in ("true", "false"):
        matches |= _kind_is(key, value)
    elif _NUMERIC.match(value):
        number = float(value)
        if math.isfinite(number):
            matches |= _attribute_compare(key, "=", number)
    return matches


_NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")


# --- compiling -----------------------------------------------------------------------------------


def compile_query(node: Node, workspace: Workspace, now: datetime | None = None) -> Q:
    """The ``Q`` over ``Contact`` for ``node``; "in N days" counts back from ``now``."""
    # The workspace's spelling of each attribute the query names, in one query (none without).
    names = spellings(workspace.pk, _attribute_names(node))
    return _Compiler(workspace, now or timezone.now(), names).compile(node)


def _attribute_names(node: Node) -> list[str]:
    match node:
        case And(items) | Or(items):
            return [name for item in items for name in _attribute_names(item)]
        case Not(item):
            return _attribute_names(item)
        case HasAttribute(key):
            return [key]
        case Compare(field) if field.startswith("attributes."):
            return [field.removeprefix("attributes.")]
    return []


class _Compiler:
    def __init__(self, workspace: Workspace, now: datetime, spellings: dict[str, str]) -> None:
        self.workspace = workspace
        self.now = now
        self.spellings = spellings  # folded name -> the workspace's spelling

    def key(self, name: str) -> str:
        """The workspace's spelling of an attribute the query names in any case; a name the
        workspace never had stays as written (it matches nobody)."""
        return self.spellings.get(fold(name), name)

    def compile(self, node: Node) -> Q:
        match node:
            case And(items):
                return _all(self.compile(item) for item in items)
            case Or(items):
                result = Q(pk__in=[])
                for item in items:
                    result |= self.compile(item)
                return result
            case Not(item):
                return ~self.compile(item)
            case Compare(field, op, value):
                if op == "!=":
                    return ~self.compare(field, "=", value)
                return self.compare(field, op, value)
            case HasAttribute(key):
                return ~_kind_is(self.key(key), "missing", "null")
            case InList(ref, statuses):
                lists = ContactList.objects.filter(workspace=self.workspace, **_by_ref(ref))
                return Q(
                    Exists(
                        Subscription.objects.filter(
                            contact=OuterRef("pk"), status__in=statuses, contact_list__in=lists.values("pk")
                        )
                    )
                )
            case InCategory(ref):
                topics = Topic.objects.filter(workspace=self.workspace, **_by_ref(ref))
                return Q(Exists(ContactTopic.objects.filter(contact=OuterRef("pk"), topic__in=topics.values("pk"))))
            case Engaged(verb, days):
                events = Event.objects.filter(message=OuterRef("pk"), type__in=VERBS[verb])
                if days is not None:
                    events = events.filter(created_at__gte=self.now - timedelta(days=days))
                # Messages are matched by address: a message keeps no link to the contact, and the
                # contact may have been added after the mail went. Two nested EXISTS rather than a
                # join, so that SQLite (which runs a correlated subquery as written) goes from the
                # contact through the (workspace, lower(to_email)) index on messages to the few
                # events of each message, instead of scanning events.
                messages = (
                    Message.objects.filter(workspace_id=self.workspace.pk)
                    .annotate(address=Lower("to_email"))
                    .filter(address=_ContactAddress(OuterRef("email_key")))
                    .filter(Exists(events))
                )
                return Q(Exists(messages))
        raise AssertionError(node)  # pragma: no cover

    def compare(self, field: str, op: str, value: Any) -> Q:
        if isinstance(value, DaysAgo):
            value = self.now - timedelta(days=value.days)
            if field.startswith("attributes."):
                # Attribute dates are ISO 8601 texts, which sort as the moments they name.
                value = value.date().isoformat()
        if field.startswith("attributes."):
            return _attribute_compare(self.key(field.removeprefix("attributes.")), op, value)
        if field in ("created_at", "updated_at"):
            return _date_compare(field, op, value if isinstance(value, datetime) else parse_when(value))
        if field == "email":
            return Q(**{f"email_key{_SUFFIX[op]}": value.lower() if op == "=" else value})
        return Q(**{f"{field}{_SUFFIX[op]}": value})


_SUFFIX = {"=": "", "contains": "__icontains", "starts": "__istartswith", "ends": "__iendswith"}


def _date_compare(field: str, op: str, when: date | datetime | None) -> Q:
    """A date stands for its whole day (UTC): ``= "2025-01-31"`` is that day, ``> …`` after it."""
    assert when is not None  # checked by the parser
    if isinstance(when, datetime):
        lookups = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
        return Q(**{f"{field}__{lookups[op]}": when})
    start = datetime.combine(when, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    if op == "=":
        return Q(**{f"{field}__gte": start, f"{field}__lt": end})
    if op in ("<", ">="):
        return Q(**{f"{field}__{'lt' if op == '<' else 'gte'}": start})
    return Q(**{f"{field}__{'lt' if op == '<=' else 'gte'}": end})


def _by_ref(ref: str | int) -> dict[str, Any]:
    return {"pk": ref} if isinstance(ref, int) else {"name": ref}


def _all(parts: Any) -> Q:
    result = Q()
    for part in parts:
        result &= part
    return result


# --- checking and evaluating ---------------------------------------------------------------------


def _references(node: Node) -> list[InList | InCategory]:
    match node:
        case And(items) | Or(items):
            return [ref for item in items for ref in _references(item)]
        case Not(item):
            return _references(item)
        case InList() | InCategory():
            return [node]
    return []


def check_query(workspace: Workspace, text: str) -> Node:
    """The parsed query, after checking that the lists and categories it names exist.

    QueryError otherwise. A saved segment whose list is later deleted or renamed is not broken by
    it: that condition then matches nobody.
    """
    node = parse(text)
    for ref in _references(node):
        model, what = (ContactList, "list") if isinstance(ref, InList) else (Topic, "category")
        if not model.objects.filter(workspace=workspace, **_by_ref(ref.ref)).exists():
            named = f"with id {ref.ref}" if isinstance(ref.ref, int) else f'named "{ref.ref}"'
            raise QueryError(f"the workspace has no {what} {named}", ref.column)
    return node


def matching_contacts(workspace: Workspace, text: str, now: datetime | None = None) -> QuerySet[Contact]:
    """The workspace's contacts that ``text`` matches (checked: QueryError when invalid)."""
    node = check_query(workspace, text)
    return Contact.objects.filter(workspace=workspace).filter(compile_query(node, workspace, now))


def segment_contacts(segment: Segment, now: datetime | None = None) -> QuerySet[Contact]:
    """The contacts in ``segment`` now. Its query was checked when saved."""
    node = parse(segment.query)
    return Contact.objects.filter(workspace_id=segment.workspace_id).filter(compile_query(node, segment.workspace, now))


def segment_count(segment: Segment) -> int:
    return segment_contacts(segment).count()


# --- actions -------------------------------------------------------------------------------------


def _clean_query(workspace: Workspace, query: str) -> str:
    # Checked as given, so that an error's column points into the text the user typed.
    check_query(workspace, query)
    return query.strip()


def create_segment(workspace: Workspace, name: str, query: str, *, actor: User | None = None) -> Segment:
    clean_name = unique_name(Segment, workspace, name, what="segment")
    clean_query = _clean_query(workspace, query)
    try:
        with transaction.atomic():
            return Segment.objects.create(workspace=workspace, name=clean_name, query=clean_query, created_by=actor)
    except IntegrityError:
        # Another request took the name since we looked.
        raise InvalidInput.one("name", "the workspace has a segment of this name already") from None


def update_segment(segment: Segment, *, name: str | None = None, query: str | None = None) -> Segment:
    """Change what is given; nothing changes unless all of it is valid."""
    clean_name = (
        unique_name(Segment, segment.workspace, name, what="segment", exclude=segment.pk)
        if name is not None
        else segment.name
    )
    clean_query = _clean_query(segment.workspace, query) if query is not None else segment.query
    segment.name, segment.query, segment.updated_at = clean_name, clean_query, timezone.now()
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise InvalidInput.one("name", "the workspace has a segment of this name already") from None
    return segment


def delete_segment(segment: Segment) -> None:
    segment.delete()

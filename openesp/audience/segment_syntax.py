"""The segment syntax: text → tokens → a small tree (the AST). Nothing here touches the database.

A hand-written recursive-descent parser rather than a grammar library: the language is small,
and writing it out lets every error say exactly what was expected and where (``… at column N``,
counted from 1). The full reference is docs/segments.md; in short::

    query     := or_expr
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := unary ("and" unary)*
    unary     := "not" unary | "(" or_expr ")" | condition
    condition := FIELD op value | FIELD text_op "text" | FIELD "exists" | "has" FIELD
               | "in" "list" ref | "subscribed" "to" "list" ref | "pending" "on" "list" ref
               | "unsubscribed" "from" "list" ref | "in" "category" ref
               | ["never"] VERB ["in" ["the" "last"] NUMBER "days"]

``and`` binds tighter than ``or``; ``not`` tighter than both. Keywords are case-insensitive;
attribute names are not.

One module past ~400 lines on purpose: the tree's node types, the tokenizer and the parser are
one job (text → tree), read together when the language changes; the half that touches the
database (compiling the tree to a query) is ``segments``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from openesp.audience.models import ContactStatus
from openesp.lib.errors import FieldProblem, InvalidInput

MAX_QUERY_LENGTH = 2000
MAX_DEPTH = 10  # nested parentheses and "not"s
MAX_CONDITIONS = 50
MAX_DAYS = 36500

# The contact's own columns, by what they hold.
TEXT_FIELDS = ("email", "name", "language", "time_zone")
DATE_FIELDS = ("created_at", "updated_at")
FIELDS = (*TEXT_FIELDS, "status", *DATE_FIELDS)
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
# Engagement verbs and the event types each one matches. "sent" counts a delivered message too:
# some providers only ever report the delivery.
VERBS: dict[str, tuple[str, ...]] = {
    "sent": ("sent", "delivered"),
    "delivered": ("delivered",),
    "opened": ("opened",),
    "clicked": ("clicked",),
    "bounced": ("bounced",),
    "complained": ("complained",),
}
# The same rule as the contacts' own attribute names (audience.actions), so that a name the
# query accepts is one a contact can have, and the JSON path built from it needs no quoting.
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" lets a final newline through

ListStatus = Literal["subscribed", "pending", "unsubscribed"]


class QueryError(InvalidInput):
    """The query is not valid; the reason ends with the column (from 1) where the problem is."""

    def __init__(self, reason: str, column: int) -> None:
        self.column = column
        self.reason = f"{reason} at column {column}"
        super().__init__([FieldProblem("query", self.reason)])


# --- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaysAgo:
    """``30 days ago``: a moment relative to when the query runs."""

    days: int


Value = str | int | float | bool | DaysAgo


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Compare:
    """``field op value``, and the text operators (op ``contains``, ``starts``, ``ends``)."""

    field: str  # a FIELDS name or "attributes.<key>"
    op: str
    value: Value
    column: int


@dataclass(frozen=True)
class HasAttribute:
    key: str
    column: int


@dataclass(frozen=True)
class InList:
    ref: str | int  # a list's name or id
    statuses: tuple[ListStatus, ...]
    column: int


@dataclass(frozen=True)
class InCategory:
    ref: str | int
    column: int


@dataclass(frozen=True)
class Engaged:
    verb: str
    days: int | None  # None: ever
    column: int


Node = And | Or | Not | Compare | HasAttribute | InList | InCategory | Engaged


# --- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "string", "number", "op", "(", ")", "end"]
    text: str  # a word as written; a string's value without quotes and escapes
    column: int
    value: int | float | None = None  # a number's value

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the query"
        if self.kind == "string":
            return f'the text "{_shorten(self.text)}"'
        return f'"{_shorten(self.text)}"'


def _shorten(text: str) -> str:
    return text if len(text) <= 30 else text[:29] + "…"


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]*)?")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_OPERATOR = re.compile(r"!=|<=|>=|==|<>|=|<|>")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        column = i + 1
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, ch, column))  # type: ignore[arg-type]
            i += 1
        elif ch in "\"'":
            value, i = _read_string(text, i)
            tokens.append(Token("string", value, column))
        elif m := _NUMBER.match(text, i):
            if (end := m.end()) < n and (text[end].isalnum() or text[end] in "_."):
                raise QueryError(f'"{_shorten(text[i : end + 1])}" is not a number', column)
            number = m.group()
            tokens.append(Token("number", number, column, float(number) if "." in number else int(number)))
            i = end
        elif m := _WORD.match(text, i):
            tokens.append(Token("word", m.group(), column))
            i = m.end()
        elif m := _OPERATOR.match(text, i):
            op = m.group()
            if op in ("==", "<>"):
                raise QueryError(f'unknown operator "{op}" (use {"=" if op == "==" else "!="})', column)
            tokens.append(Token("op", op, column))
            i = m.end()
        else:
            raise QueryError(f'unexpected character "{ch}"', column)
    tokens.append(Token("end", "", n + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A quoted text from ``start`` (the quote); a backslash escapes the quote or a backslash."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError(f"the text starting here has no closing {quote}", start + 1)


# --- the parser ----------------------------------------------------------------------------------


def parse(text: str) -> Node:
    """The tree of ``text``, or QueryError saying what is wrong and where."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH + 1)
    tokens = tokenize(text)
    if tokens[0].kind == "end":
        raise QueryError('the query is empty: write a condition such as status = "active"', 1)
    return _Parser(tokens).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.conditions = 0

    # helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.word in words

    def expect_word(self, word: str, after: str) -> Token:
        if not self.at_word(word):
            raise QueryError(f'expected "{word}" after {after}, found {self.current.describe()}', self.current.column)
        return self.advance()

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels", token.column)

    def count_condition(self, column: int) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QueryError(f"the query has more than {MAX_CONDITIONS} conditions", column)

    # grammar

    def query(self) -> Node:
        node = self.or_expr()
        token = self.current
        if token.kind == ")":
            raise QueryError('this ")" closes no "("', token.column)
        if token.kind != "end":
            raise QueryError(f'expected "and", "or" or the end of the query, found {token.describe()}', token.column)
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_word("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.at_word("and"):
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        token = self.current
        if token.word == "not":
            self.advance()
            self.nest(token)
            node: Node = Not(self.unary())
            self.depth -= 1
            return node
        if token.kind == "(":
            self.advance()
            self.nest(token)
            node = self.or_expr()
            if self.current.kind != ")":
                raise QueryError(
                    f'expected ")" to close the "(" at column {token.column}, found {self.current.describe()}',
                    self.current.column,
                )
            self.advance()
            self.depth -= 1
            return node
        return self.condition()

    def condition(self) -> Node:
        token = self.current
        self.count_condition(token.column)
        word = token.word
        if token.kind != "word":
            raise QueryError(f"expected a condition, found {token.describe()}", token.column)
        if word == "in":
            self.advance()
            if self.at_word("list"):
                self.advance()
                return InList(self.ref("list"), ("subscribed", "pending"), token.column)
            if self.at_word("category"):
                self.advance()
                return InCategory(self.ref("category"), token.column)
            raise QueryError(f'expected "list" or "category" after "in", found {self.current.describe()}',
                             self.current.column)  # fmt: skip
        if word in ("subscribed", "pending", "unsubscribed") and self.tokens[self.pos + 1].kind == "word":
            self.advance()
            joiner = {"subscribed": ("to",), "pending": ("on", "in"), "unsubscribed": ("from",)}[word]
            if not self.at_word(*joiner):
                raise QueryError(f'expected "{joiner[0]} list" after "{token.text}", found {self.current.describe()}',
                                 self.current.column)  # fmt: skip
            self.advance()
            self.expect_word("list", f'"{token.text} {joiner[0]}"')
            status: ListStatus = word  # type: ignore[assignment]
            return InList(self.ref("list"), (status,), token.column)
        if word == "never":
            self.advance()
            verb = self.current
            if verb.word not in VERBS:
                raise QueryError(f'expected {_verbs()} after "never", found {verb.describe()}', verb.column)
            self.advance()
            return Not(Engaged(verb.word, self.within(), token.column))
        if word in VERBS:
            self.advance()
            return Engaged(word, self.within(), token.column)
        if word == "has":
            self.advance()
            field = self.current
            key = self.attribute_key(field) if field.kind == "word" else None
            if key is None:
                raise QueryError(f"expected an attribute such as attributes.country after \"has\", found "
                                 f"{field.describe()}", field.column)  # fmt: skip
            self.advance()
            return HasAttribute(key, token.column)
        return self.field_condition()

    def within(self) -> int | None:
        """``in 90 days`` (or ``in the last 90 days``) after a verb; None when absent: ever."""
        if not self.at_word("in") or self.tokens[self.pos + 1].word in ("list", "category"):
            return None
        self.advance()
        if self.at_word("the"):
            self.advance()
            self.expect_word("last", '"in the"')
        number = self.current
        if number.kind != "number" or not isinstance(number.value, int) or number.value < 1:
            raise QueryError(f"expected a whole number of days, found {number.describe()}", number.column)
        if number.value > MAX_DAYS:
            raise QueryError(f"at most {MAX_DAYS} days", number.column)
        self.advance()
        if not self.at_word("day", "days"):
            raise QueryError(f'expected "days" after {number.value}, found {self.current.describe()}',
                             self.current.column)  # fmt: skip
        self.advance()
        return number.value

    def ref(self, what: str) -> str | int:
        token = self.current
        if token.kind == "string" and token.text.strip():
            self.advance()
            return token.text
        if token.kind == "number" and isinstance(token.value, int) and token.value > 0:
            self.advance()
            return token.value
        raise QueryError(f"expected a {what} name in quotes or its id, found {token.describe()}", token.column)

    def attribute_key(self, token: Token) -> str | None:
        """The key of ``attributes.<key>``; None when the word is not an attribute; an error when
        it is one with a name no contact can have."""
        head, dot, key = token.text.partition(".")
        if head.lower() != "attributes" or not dot:
            return None
        if not ATTRIBUTE_KEY.match(key):
            raise QueryError(
                f'"{_shorten(key)}" is not an attribute name (letters, digits, "_" and "-", starting with a letter '
                'or "_", at most 64)'
                if key
                else 'expected an attribute name after "attributes."',
                token.column + len("attributes."),
            )
        return key

    def field_condition(self) -> Node:
        token = self.advance()
        key = self.attribute_key(token)
        if key is not None:
            field = f"attributes.{key}"
        elif token.word in FIELDS and "." not in token.text:
            field = token.word
        else:
            raise QueryError(
                f"unknown field or condition {token.describe()}; fields are {', '.join(FIELDS)} and "
                f"attributes.<name>; conditions also start with in, has, never or {_verbs()}",
                token.column,
            )
        op = self.current
        if op.word == "exists":
            self.advance()
            if key is None:
                raise QueryError(f'"exists" applies to attributes only; {field} always exists', op.column)
            return HasAttribute(key, token.column)
        if op.word in ("contains", "starts", "ends"):
            self.advance()
            if op.word != "contains":
                self.expect_word("with", f'"{op.text}"')
            if field in ("status", *DATE_FIELDS):
                raise QueryError(f'"{op.word}" applies to text; {field} is not text', op.column)
            text = self.current
            if text.kind != "string":
                raise QueryError(f'expected a text in quotes after "{op.word}", found {text.describe()}',
                                 text.column)  # fmt: skip
            self.advance()
            return Compare(field, op.word, text.text, token.column)
        if op.kind != "op":
            raise QueryError(
                f"expected an operator after {field} (=, !=, <, <=, >, >=, contains, starts with, ends with"
                f"{', exists' if key else ''}), found {op.describe()}",
                op.column,
            )
        self.advance()
        value_token = self.current
        value = self.value()
        self.check_types(field, op, value, value_token)
        return Compare(field, op.text, value, token.column)

    def value(self) -> Value:
        token = self.current
        if token.kind == "string":
            self.advance()
            return token.text
        if token.word in ("true", "false"):
            self.advance()
            return token.word == "true"
        if token.kind == "number":
            assert token.value is not None
            self.advance()
            if self.at_word("day", "days"):
                unit = self.advance()
                if not self.at_word("ago"):
                    raise QueryError(f'expected "ago" after "{token.text} {unit.text}", found '
                                     f"{self.current.describe()}", self.current.column)  # fmt: skip
                self.advance()
                if not isinstance(token.value, int) or not 0 <= token.value <= MAX_DAYS:
                    raise QueryError(f"expected a whole number of days from 0 to {MAX_DAYS}", token.column)
                return DaysAgo(token.value)
            return token.value
        raise QueryError(
            f'expected a value (a "text" in quotes, a number, true, false or N days ago), found {token.describe()}',
            token.column,
        )

    def check_types(self, field: str, op: Token, value: Value, token: Token) -> None:
        """What each field can be compared with, so that a mistake is reported rather than
        quietly matching nothing."""
        if field.startswith("attributes."):
            if isinstance(value, bool) and op.text not in ("=", "!="):
                raise QueryError("true and false compare only with = and !=", op.column)
            return
        if field in DATE_FIELDS:
            if isinstance(value, DaysAgo):
                return
            if not isinstance(value, str) or parse_when(value) is None:
                raise QueryError(f'{field} compares with a date such as "2025-01-31" (or "2025-01-31T12:00:00Z") '
                                 "or N days ago", token.column)  # fmt: skip
            return
        if not isinstance(value, str):
            raise QueryError(f"{field} is text: put the value in quotes", token.column)
        if op.text not in ("=", "!="):
            raise QueryError(f"{field} compares only with =, !=, contains, starts with or ends with", op.column)
        if field == "status" and value not in ContactStatus.values:
            raise QueryError(f"status is one of {', '.join(ContactStatus.values)}", token.column)


def _verbs() -> str:
    return ", ".join(VERBS)


# --- dates ---------------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


def parse_when(text: str) -> date | datetime | None:
    """A date, or an aware datetime, for an ISO 8601 text; None otherwise.

    A datetime without an offset is taken as UTC, like a plain date.
    """
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

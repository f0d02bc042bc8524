"""The segment syntax's parser: every construct, and every error with its column."""

from __future__ import annotations

import pytest

from openesp.audience.segment_syntax import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    And,
    Compare,
    DaysAgo,
    Engaged,
    HasAttribute,
    InCategory,
    InList,
    Not,
    Or,
    QueryError,
    parse,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('email = "a@example.com"', Compare("email", "=", "a@example.com", 1)),
        ("name != 'Ann'", Compare("name", "!=", "Ann", 1)),
        ('language = "sv"', Compare("language", "=", "sv", 1)),
        ('time_zone = "Europe/Stockholm"', Compare("time_zone", "=", "Europe/Stockholm", 1)),
        ('STATUS = "active"', Compare("status", "=", "active", 1)),
        ('created_at >= "2025-01-31"', Compare("created_at", ">=", "2025-01-31", 1)),
        ('updated_at < "2025-01-31T12:00:00+01:00"', Compare("updated_at", "<", "2025-01-31T12:00:00+01:00", 1)),
        ("created_at > 30 days ago", Compare("created_at", ">", DaysAgo(30), 1)),
        ("created_at > 1 day ago", Compare("created_at", ">", DaysAgo(1), 1)),
        ('attributes.country = "SE"', Compare("attributes.country", "=", "SE", 1)),
        ("attributes.age > 18", Compare("attributes.age", ">", 18, 1)),
        ("attributes.age <= -2.5", Compare("attributes.age", "<=", -2.5, 1)),
        ("attributes.vip = TRUE", Compare("attributes.vip", "=", True, 1)),
        ("attributes.vip != false", Compare("attributes.vip", "!=", False, 1)),
        ("attributes.First_name-2 = 'x'", Compare("attributes.First_name-2", "=", "x", 1)),
        ('name contains "a\\"b\\\\c"', Compare("name", "contains", 'a"b\\c', 1)),
        ("name contains 'it\\'s'", Compare("name", "contains", "it's", 1)),
        ('email starts with "ann"', Compare("email", "starts", "ann", 1)),
        ('email ends with "@example.com"', Compare("email", "ends", "@example.com", 1)),
        ('attributes.city contains "holm"', Compare("attributes.city", "contains", "holm", 1)),
        ("attributes.country exists", HasAttribute("country", 1)),
        ("has attributes.country", HasAttribute("country", 1)),
        ('in list "Newsletter"', InList("Newsletter", ("subscribed", "pending"), 1)),
        ("in list 12", InList(12, ("subscribed", "pending"), 1)),
        ('subscribed to list "News"', InList("News", ("subscribed",), 1)),
        ('pending on list "News"', InList("News", ("pending",), 1)),
        ('pending in list "News"', InList("News", ("pending",), 1)),
        ('unsubscribed from list "News"', InList("News", ("unsubscribed",), 1)),
        ('in category "Product news"', InCategory("Product news", 1)),
        ("in category 3", InCategory(3, 1)),
        ("opened", Engaged("opened", None, 1)),
        ("opened in 90 days", Engaged("opened", 90, 1)),
        ("Clicked in the last 1 day", Engaged("clicked", 1, 1)),
        ("sent in 7 days", Engaged("sent", 7, 1)),
        ("delivered", Engaged("delivered", None, 1)),
        ("bounced in 30 days", Engaged("bounced", 30, 1)),
        ("complained", Engaged("complained", None, 1)),
        ("never opened", Not(Engaged("opened", None, 1))),
        ("never clicked in 30 days", Not(Engaged("clicked", 30, 1))),
    ],
)
def test_it_parses_each_construct(text, tree):
    assert parse(text) == tree


def test_the_issues_example():
    assert parse('attributes.country = "SE" and not opened in 90 days') == And(
        (Compare("attributes.country", "=", "SE", 1), Not(Engaged("opened", 90, 35)))
    )


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    a, b, c = (Engaged(v, None, col) for v, col in (("opened", 1), ("clicked", 11), ("sent", 23)))
    assert parse("opened or clicked and sent") == Or((a, And((b, c))))
    assert parse("not opened and clicked") == And((Not(Engaged("opened", None, 5)), Engaged("clicked", None, 16)))
    assert parse("(opened or clicked) and sent") == And(
        (Or((Engaged("opened", None, 2), Engaged("clicked", None, 12))), Engaged("sent", None, 25))
    )
    assert parse("opened OR clicked") == Or((Engaged("opened", None, 1), Engaged("clicked", None, 11)))
    assert parse("not not opened") == Not(Not(Engaged("opened", None, 9)))


def test_a_verb_followed_by_a_list_condition_keeps_them_apart():
    # "opened in list …" would be ambiguous; "and" is required, and the error says so.
    with pytest.raises(QueryError) as excinfo:
        parse('opened in list "News"')
    assert excinfo.value.reason == 'expected "and", "or" or the end of the query, found "in" at column 8'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", 'the query is empty: write a condition such as status = "active" at column 1'),
        ("   ", 'the query is empty: write a condition such as status = "active" at column 1'),
        ('name = "Ann', "the text starting here has no closing \" at column 8"),
        ("name = 'Ann", "the text starting here has no closing ' at column 8"),
        ("name = Ann", 'expected a value (a "text" in quotes, a number, true, false or N days ago), found "Ann" '
         "at column 8"),
        ('name == "Ann"', 'unknown operator "==" (use =) at column 6'),
        ('name <> "Ann"', 'unknown operator "<>" (use !=) at column 6'),
        ('name ~ "Ann"', 'unexpected character "~" at column 6'),
        ("attributes.age = 12abc", '"12a" is not a number at column 18'),
        ('nam = "Ann"', 'unknown field or condition "nam"; fields are email, name, language, time_zone, status, '
         "created_at, updated_at and attributes.<name>; conditions also start with in, has, never or sent, "
         "delivered, opened, clicked, bounced, complained at column 1"),
        ('contact.name = "x"', 'unknown field or condition "contact.name"; fields are email, name, language, '
         "time_zone, status, created_at, updated_at and attributes.<name>; conditions also start with in, has, "
         "never or sent, delivered, opened, clicked, bounced, complained at column 1"),
        ("attributes. = 1", 'expected an attribute name after "attributes." at column 12'),
        ("attributes.9lives = 1", '"9lives" is not an attribute name (letters, digits, "_" and "-", starting with '
         'a letter or "_", at most 64) at column 12'),
        (f"attributes.{'a' * 65} = 1", f'"{"a" * 29}…" is not an attribute name (letters, digits, "_" and "-", '
         'starting with a letter or "_", at most 64) at column 12'),
        ('name "Ann"', 'expected an operator after name (=, !=, <, <=, >, >=, contains, starts with, ends with), '
         'found the text "Ann" at column 6'),
        ("attributes.x", "expected an operator after attributes.x (=, !=, <, <=, >, >=, contains, starts with, "
         "ends with, exists), found the end of the query at column 13"),
        ('name starts "A"', 'expected "with" after "starts", found the text "A" at column 13'),
        ("name contains 3", 'expected a text in quotes after "contains", found "3" at column 15'),
        ('status contains "act"', '"contains" applies to text; status is not text at column 8'),
        ('created_at starts with "2025"', '"starts" applies to text; created_at is not text at column 12'),
        ("name exists", '"exists" applies to attributes only; name always exists at column 6'),
        ("has name", 'expected an attribute such as attributes.country after "has", found "name" at column 5'),
        ('status = "gone"', "status is one of active, unsubscribed, bounced, complained at column 10"),
        ('status > "active"', "status compares only with =, !=, contains, starts with or ends with at column 8"),
        ("name = 3", "name is text: put the value in quotes at column 8"),
        ("attributes.vip > true", "true and false compare only with = and != at column 16"),
        ('created_at > "yesterday"', 'created_at compares with a date such as "2025-01-31" (or '
         '"2025-01-31T12:00:00Z") or N days ago at column 14'),
        ('created_at > "2025-02-30"', 'created_at compares with a date such as "2025-01-31" (or '
         '"2025-01-31T12:00:00Z") or N days ago at column 14'),
        ("created_at > 3 days", 'expected "ago" after "3 days", found the end of the query at column 20'),
        ("created_at > 1.5 days ago", "expected a whole number of days from 0 to 36500 at column 14"),
        ("in", 'expected "list" or "category" after "in", found the end of the query at column 3'),
        ("in lists", 'expected "list" or "category" after "in", found "lists" at column 4'),
        ("in list", "expected a list name in quotes or its id, found the end of the query at column 8"),
        ('in list ""', 'expected a list name in quotes or its id, found the text "" at column 9'),
        ("in list 0", 'expected a list name in quotes or its id, found "0" at column 9'),
        ("in category x", 'expected a category name in quotes or its id, found "x" at column 13'),
        ('subscribed list "x"', 'expected "to list" after "subscribed", found "list" at column 12'),
        ('subscribed to "x"', 'expected "list" after "subscribed to", found the text "x" at column 15'),
        ('unsubscribed to list "x"', 'expected "from list" after "unsubscribed", found "to" at column 14'),
        ("never", "expected sent, delivered, opened, clicked, bounced, complained after \"never\", found the end of "
         "the query at column 6"),
        ("never read", 'expected sent, delivered, opened, clicked, bounced, complained after "never", found "read" '
         "at column 7"),
        ("opened in 90", 'expected "days" after 90, found the end of the query at column 13'),
        ("opened in 90 weeks", 'expected "days" after 90, found "weeks" at column 14'),
        ("opened in days", 'expected a whole number of days, found "days" at column 11'),
        ("opened in 0 days", 'expected a whole number of days, found "0" at column 11'),
        ("opened in 2.5 days", 'expected a whole number of days, found "2.5" at column 11'),
        ("opened in 36501 days", "at most 36500 days at column 11"),
        ("opened in the 9 days", 'expected "last" after "in the", found "9" at column 15'),
        ("opened and", "expected a condition, found the end of the query at column 11"),
        ("opened or or clicked", 'unknown field or condition "or"; fields are email, name, language, time_zone, '
         "status, created_at, updated_at and attributes.<name>; conditions also start with in, has, never or "
         "sent, delivered, opened, clicked, bounced, complained at column 11"),
        ("and opened", 'unknown field or condition "and"; fields are email, name, language, time_zone, status, '
         "created_at, updated_at and attributes.<name>; conditions also start with in, has, never or sent, "
         "delivered, opened, clicked, bounced, complained at column 1"),
        ("opened clicked", 'expected "and", "or" or the end of the query, found "clicked" at column 8'),
        ("(opened", 'expected ")" to close the "(" at column 1, found the end of the query at column 8'),
        ("(opened or (clicked)", 'expected ")" to close the "(" at column 1, found the end of the query at column 21'),
        ("opened)", 'this ")" closes no "(" at column 7'),
        ("()", 'expected a condition, found ")" at column 2'),
        ("not", "expected a condition, found the end of the query at column 4"),
    ],
)  # fmt: skip
def test_each_error_says_what_and_where(text, reason):
    with pytest.raises(QueryError) as excinfo:
        parse(text)
    assert excinfo.value.reason == reason
    assert excinfo.value.as_dict() == {"query": reason}


def test_columns_count_characters_not_bytes():
    with pytest.raises(QueryError) as excinfo:
        parse('name = "Åsa" and stat = "active"')
    assert excinfo.value.column == 18


def test_the_limits():
    with pytest.raises(QueryError) as excinfo:
        parse("opened or " * 200 + "opened")
    assert excinfo.value.reason == "the query is longer than 2000 characters at column 2001"

    deep = "(" * MAX_DEPTH + "opened" + ")" * MAX_DEPTH
    assert parse(deep) == Engaged("opened", None, MAX_DEPTH + 1)
    with pytest.raises(QueryError) as excinfo:
        parse("(" + deep + ")")
    assert excinfo.value.reason == f"the query nests deeper than {MAX_DEPTH} levels at column {MAX_DEPTH + 1}"
    with pytest.raises(QueryError) as excinfo:
        parse("not " * (MAX_DEPTH + 1) + "opened")
    assert excinfo.value.reason == f"the query nests deeper than {MAX_DEPTH} levels at column {MAX_DEPTH * 4 + 1}"

    many = " or ".join(["opened"] * MAX_CONDITIONS)
    assert isinstance(parse(many), Or)
    with pytest.raises(QueryError) as excinfo:
        parse(many + " or clicked")
    assert excinfo.value.reason == (
        f"the query has more than {MAX_CONDITIONS} conditions at column {len(many) + len(' or ') + 1}"
    )

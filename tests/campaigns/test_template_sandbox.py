"""Sandbox escapes and runaway templates fail with a clear error, never reach Python or hang."""

from __future__ import annotations

import pytest

from openesp.campaigns.templates import TemplateError, create_template, render_preview, version_data_variables


def _render(workspace, source: str, part: str = "text") -> str:
    fields = {"subject": "s", "text": "t", "html": ""}
    fields[part] = source
    version = create_template(workspace, name="T", **fields)
    return getattr(render_preview(version), part)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
        (
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        ("{{ ''|attr('__class__') }}", "No filter named 'attr'."),
        ("{{ contact|attr('__init__') }}", "No filter named 'attr'."),
        ("{{ '{:>999999999}'.format(1) }}", "access to attribute 'format' of 'str' object is unsafe."),
        ("{{ contact.name.format_map(contact) }}", "access to attribute 'format_map' of 'str' object is unsafe."),
        ("{{ '{0.__class__}'.format(contact) }}", "access to attribute 'format' of 'str' object is unsafe."),
        ("{{ contact.name.format }}", "access to attribute 'format' of 'str' object is unsafe."),
        ("{{ '%s' % contact }}", "formatting text with % is not available in templates"),
        ("{{ range.__globals__ }}", "access to attribute '__globals__' of 'function' object is unsafe."),
        ("{{ contact.attributes.pop('x') }}", "access to attribute 'pop' of 'dict' object is unsafe."),
    ],
)
def test_it_refuses_escapes(workspace, source, reason):
    with pytest.raises(TemplateError) as caught:
        _render(workspace, source)
    assert reason in caught.value.reason


def test_it_refuses_the_format_filter(workspace):
    with pytest.raises(TemplateError, match="No filter named 'format'"):
        _render(workspace, "{{ '%999999999s'|format(1) }}")


def test_it_refuses_a_huge_range(workspace):
    with pytest.raises(TemplateError, match=r"Range too big.*100000"):
        _render(workspace, "{% for i in range(10**9) %}x{% endfor %}")


def test_it_stops_a_loop_that_runs_too_long(workspace):
    source = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="rendering took longer than 2 seconds"):
        _render(workspace, source)


def test_it_stops_output_over_the_limit(workspace):
    with pytest.raises(TemplateError, match="output is larger than 1,000,000 characters"):
        _render(workspace, "{% for a in range(100000) %}{% for b in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}")


def test_it_counts_captured_output(workspace):
    source = "{% set big %}{% for a in range(100000) %}{{ contact.email }}{% endfor %}{% endset %}{{ big|length }}"
    with pytest.raises(TemplateError, match="output is larger than"):
        _render(workspace, source)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10**100000 }}",
        "{% set a = 'x' * 500000 %}{{ a ~ a ~ a }}",
        "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('ab') }}",
        "{% set a = 'x' * 2000 %}{{ a|replace('x', a) }}",
        "{{ 'a'|truncate(10**12) }}",
    ],
)
def test_it_refuses_values_that_grow_without_bound(workspace, source):
    with pytest.raises(TemplateError) as caught:
        _render(workspace, source)
    assert caught.value.field == "text"


def test_it_names_the_line_of_a_runtime_error(workspace):
    with pytest.raises(TemplateError) as caught:
        _render(workspace, "<p>a</p>\n<p>{{ 1 // 0 }}</p>", part="html")
    assert caught.value.as_dict() == {"html": "line 2: ZeroDivisionError: integer division or modulo by zero"}


def test_it_still_allows_ordinary_templates(workspace):
    source = (
        "{% for k, v in contact.attributes|dictsort %}{{ k|upper }}={{ v }};{% endfor %}"
        "{% if contact.name.startswith('So') %}{{ contact.name|lower }}{% endif %} {{ range(3)|join(',') }}"
        " {{ loop_free if false else 'ok' }}"
    )
    # ``loop_free`` is a data variable: saved, and undefined only if the branch that names it runs.
    version = create_template(workspace, name="T", subject="s", text=source)
    assert version_data_variables(version) == ("loop_free",)
    assert render_preview(version).text == "someone 0,1,2 ok"

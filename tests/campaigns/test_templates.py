"""Templates: versions, rendering, CSS inlining, text parts, and errors that name part and line."""

from __future__ import annotations

import pytest

from openesp.campaigns.models import Template, TemplateVersion
from openesp.campaigns.templates import (
    TemplateError,
    campaign_template_problems,
    create_template,
    render_preview,
    save_template,
    version_data_variables,
)
from openesp.lib.errors import InvalidInput


@pytest.fixture
def version(workspace, alice) -> TemplateVersion:
    return create_template(
        workspace,
        name="Invite",
        subject="Hello {{ contact.name }}",
        html="<p>Dear {{ contact.name }}, <a href='{{ response_url }}'>answer</a></p>",
        actor=alice,
    )


def test_it_saves_version_one_and_a_new_version_on_each_save(version, alice):
    assert version.number == 1
    second = save_template(version.template, subject="Hi {{ contact.name }}", text="Text", actor=alice)
    assert second.number == 2
    assert TemplateVersion.objects.get(pk=version.pk).subject == "Hello {{ contact.name }}"


def test_it_never_changes_a_saved_version(version):
    version.subject = "changed"
    with pytest.raises(ValueError, match="never changed"):
        version.save()


def test_it_refuses_a_second_template_of_the_same_name(version, workspace):
    with pytest.raises(InvalidInput, match="name already"):
        create_template(workspace, name="Invite", subject="x", text="y")


def test_it_renders_with_autoescaped_html_and_derived_text(version):
    rendered = render_preview(version, {"email": "a@example.com", "name": "<Ann>", "language": "", "attributes": {}})
    assert rendered.subject == "Hello <Ann>"
    assert "Dear &lt;Ann&gt;" in rendered.html
    assert "Dear <Ann>, answer (https://example.com/r/sample-token/)" in rendered.text


def test_it_inlines_css(workspace):
    version = create_template(
        workspace,
        name="Styled",
        subject="s",
        html="<html><head><style>p { color: red }</style></head><body><p>x</p></body></html>",
    )
    assert '<p style="color: red;">x</p>' in render_preview(version).html
    # A style tag in capitals, after non-ASCII text, is found too.
    shouting = create_template(
        workspace, name="Shouting", subject="s", html="<p>Hej · så</p><STYLE>p { color: red }</STYLE><p>x</p>"
    )
    assert '<p style="color: red;">x</p>' in render_preview(shouting).html


def test_it_does_not_fetch_linked_stylesheets(workspace):
    version = create_template(
        workspace,
        name="Linked",
        subject="s",
        html='<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css"><style>p{color:red}</style></head>'
        "<body><p>x</p></body></html>",
    )
    assert "color: red" in render_preview(version).html


def test_it_names_the_part_and_line_of_a_syntax_error(workspace):
    with pytest.raises(TemplateError) as caught:
        create_template(workspace, name="Bad", subject="ok", html="<p>\n{% if %}\n</p>")
    assert caught.value.as_dict() == {"html": "line 2: Expected an expression, got 'end of statement block'"}


def test_it_refuses_unknown_fields_of_the_context_at_save_time(workspace):
    with pytest.raises(TemplateError) as caught:
        create_template(workspace, name="Bad", subject="ok", text="a\n{{ contact.nmae }}")
    assert caught.value.field == "text"
    assert caught.value.line == 2
    assert caught.value.reason == (
        "'contact.nmae' is not a variable templates know (contact has attributes, email, language, name)"
    )
    assert not Template.objects.exists()


def test_a_name_the_template_sets_itself_is_not_the_context_s(workspace):
    version = create_template(
        workspace,
        name="Loop",
        subject="ok",
        text="{% for contact in [{'nick': 'A'}] %}{{ contact.nick }}{% endfor %}{{ contact.get('name') }}",
    )
    assert render_preview(version).text == "ASomeone"


def test_other_names_are_data_variables_that_campaigns_refuse(workspace):
    version = create_template(
        workspace, name="Data", subject="Hi {{ name }}", text="{{ user.plan }} {{ contact.name }}"
    )
    assert version_data_variables(version) == ("name", "user")
    (problem,) = campaign_template_problems(("template_id", version))
    assert problem.field == "template_id" and "data variables (name, user)" in problem.reason
    with pytest.raises(TemplateError) as caught:
        render_preview(version)
    assert caught.value.as_dict() == {"subject": "line 1: 'name' is undefined"}


def test_it_refuses_unknown_attributes_at_render_time(workspace):
    version = create_template(workspace, name="Attr", subject="ok", text="a\nb {{ contact.attributes.plan }}")
    with pytest.raises(TemplateError) as caught:
        render_preview(version)
    assert caught.value.as_dict() == {"text": "line 2: 'dict object' has no attribute 'plan'"}


def test_it_lets_templates_default_a_missing_attribute(workspace):
    version = create_template(
        workspace,
        name="Attr",
        subject="ok",
        text="{{ contact.attributes.get('plan', 'basic') }} {{ contact.attributes.x|default('-') }}",
    )
    assert render_preview(version).text == "basic -"


def test_it_finds_an_attribute_by_its_name_in_any_case(workspace):
    # Attribute names compare folded everywhere (docs/decisions/009-attribute-keys-fold-case.md).
    version = create_template(
        workspace,
        name="Attr",
        subject="ok",
        text="{{ contact.attributes.country }} {{ contact.attributes['COUNTRY'] }} "
        "{{ contact.attributes.get('cOuNtRy') }} {{ 'country' in contact.attributes }} "
        "{{ contact.attributes.Plan|default('-') }} {{ contact.attributes[0]|default('-') }} "
        "{{ contact.attributes|tojson }}",
    )
    contact = {"email": "a@example.com", "name": "", "language": "", "attributes": {"Country": "SE"}}
    assert render_preview(version, contact).text == 'SE SE SE True - - {"Country": "SE"}'


def test_it_refuses_include_and_unknown_filters(workspace):
    with pytest.raises(TemplateError, match="cannot include"):
        create_template(workspace, name="Inc", subject="ok", text="{% include 'x' %}")
    with pytest.raises(TemplateError, match="No filter named 'center'"):
        create_template(workspace, name="Fil", subject="ok", text="{{ 'a'|center(10) }}")


def test_it_requires_a_subject_and_a_body(workspace):
    with pytest.raises(TemplateError, match="subject: is required"):
        create_template(workspace, name="E", subject=" ", text="x")
    with pytest.raises(TemplateError, match="HTML or a text part"):
        create_template(workspace, name="E", subject="x")


def test_it_keeps_the_subject_on_one_line(workspace):
    version = create_template(workspace, name="S", subject="a\r\n{{ contact.name }}\nb", text="x")
    assert render_preview(version).subject == "a Someone b"

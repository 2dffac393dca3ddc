"""The website's templates: a variable or a field the page does not pass fails the page,
never shows as a blank (a price read from a field Search never sends went unseen so)."""

import jinja2
import pytest

from web.pages.common import page_templates


def _render(source: str, **context: object) -> str:
    return page_templates().env.from_string(source).render(**context)


def test_a_template_reading_a_field_its_data_lacks_fails():
    hotel = {"name": "Hotel du Nord", "from_rate": 12000, "currency": "EUR"}
    with pytest.raises(jinja2.UndefinedError, match="lowest_rate"):
        _render("{{ h.name }}: from {{ h.lowest_rate }} {{ h.currency }} a night", h=hotel)


def test_a_template_reading_a_variable_its_page_does_not_pass_fails():
    with pytest.raises(jinja2.UndefinedError, match="did_you_mean"):
        _render("{% if did_you_mean %}Did you mean{% endif %}")


def test_a_template_may_ask_whether_an_optional_variable_was_passed():
    source = "{% if show_policy is defined and show_policy %}terms{% endif %}"
    assert _render(source) == ""
    assert _render(source, show_policy=True) == "terms"


def test_every_page_template_compiles_with_the_sites_filters():
    templates = page_templates()
    names = templates.env.list_templates(extensions=["html"])
    assert "results.html" in names
    for name in names:
        templates.get_template(name)

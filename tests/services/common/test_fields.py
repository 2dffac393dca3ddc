"""The one rule for a person's name: every script's letters, no control or invisible
formatting characters (services/common/fields.py)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from services.common.fields import PersonName, name_problem


class _Named(BaseModel):
    name: PersonName = Field(max_length=200)


@pytest.mark.parametrize(
    "name",
    [
        "Zoë O'Brien-Smith",
        "José María de la Cruz Jr.",
        "李小龍",
        "Ахмед Иванов",
        "Ngũgĩ wa Thiong'o",
        "علی\u200cرضا",  # a zero-width non-joiner between letters, as Persian spells it
        "क्\u200dष",  # a zero-width joiner after a virama, as Devanagari shapes a conjunct
        "Dr. Ada Lovelace 3rd",
    ],
)
def test_names_of_every_script_are_taken(name):
    assert name_problem(name) is None
    assert _Named(name=f"  {name} ").name == name


@pytest.mark.parametrize(
    "name",
    [
        "Ada\r\nBcc: eve@example.com",  # a mail header's line break
        "Ada\x00",  # NUL
        "Ada\x1b[31m",  # a terminal escape
        "\u202eecalevoL adA",  # a right-to-left override: the name reads backwards
        "Ada\u2066Lovelace",  # a bidirectional isolate
        "Ada\u200bLovelace",  # a zero-width space
        "\u200cAda",  # a joiner with no letters to join
        "Ada\u00adLovelace",  # a soft hyphen
        "Ada\u2028Lovelace",  # a line separator
        "Ada\ue000",  # private use
        "Ada\ud800",  # a lone surrogate
        "Ada\U000e0001",  # a language tag
        "Ada\u0378",  # unassigned
    ],
)
def test_control_and_invisible_formatting_characters_are_refused(name):
    assert name_problem(name) is not None
    with pytest.raises(ValidationError) as refused:
        _Named(name=name)
    assert refused.value.errors()[0]["loc"] == ("name",)


def test_a_blank_name_is_refused():
    with pytest.raises(ValidationError):
        _Named(name="   ")

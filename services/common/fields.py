"""Field types the services' contracts share, so every service refuses the same bad input.

A person's name is one rule everywhere it is typed (an account, a guest, a cardholder):
it is shown on pages, printed on receipts and written into mail headers.

A number a caller sends ends up in a 64-bit database column or comparison: past it, the
database driver fails (a 500) instead of the contract refusing it (a 4xx). Money is whole
minor units, and a JSON body must say so: `"100"` or `true` is refused, not coerced.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, Strict

INT64_MAX = 2**63 - 1
"""The largest integer a database column (BIGINT, SQLite's INTEGER) or parameter holds."""

Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A row id a caller names: positive, and within the database's integers."""

Int64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A count or a price a query compares with a column: non-negative, within its integers."""

MinorUnits = Annotated[int, Strict()]
"""Money in integer minor units in a JSON body; give it its bounds with `Field(le=...)`."""


# Characters a person's name never needs: control characters (a line break would end a
# mail header, NUL ends a C string), format characters (a bidirectional override makes a
# name read backwards, a zero-width space hides in it), line and paragraph separators,
# surrogates, private-use and unassigned code points (nothing a reader could check).
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# Zero-width non-joiner and joiner: how Persian, Arabic and Indic scripts spell some names,
# so allowed where they do that work, between letters (or a letter's marks).
_JOINERS = frozenset({"\u200c", "\u200d"})


def _letter_or_mark(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _allowed_in_name(text: str, index: int) -> bool:
    char = text[index]
    if unicodedata.category(char) not in _NOT_IN_NAMES:
        return True
    return (
        char in _JOINERS
        and 0 < index < len(text) - 1
        and _letter_or_mark(text[index - 1])
        and _letter_or_mark(text[index + 1])
    )


def name_problem(value: str) -> str | None:
    """Why `value` (trimmed) is not a person's name as the product takes one, or None.

    Letters of every script, marks, digits, spaces and punctuation (apostrophes, hyphens,
    dots) are a name's; control and invisible formatting characters are not."""
    if not value:
        return "must not be blank"
    if not all(_allowed_in_name(value, index) for index in range(len(value))):
        return "must not contain control or invisible formatting characters"
    return None


def _check_name(value: str) -> str:
    value = value.strip()
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


PersonName = Annotated[str, AfterValidator(_check_name)]
"""A person's name (an account's, a guest's, a cardholder's): trimmed, not blank, without
control or invisible formatting characters. Give it its length with `Field(max_length=...)`."""

"""Field types the services' contracts share, so every service refuses the same bad input.

A number a caller sends ends up in a 64-bit database column or comparison: past it, the
database driver fails (a 500) instead of the contract refusing it (a 4xx). Money is whole
minor units, and a JSON body must say so: `"100"` or `true` is refused, not coerced.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

INT64_MAX = 2**63 - 1
"""The largest integer a database column (BIGINT, SQLite's INTEGER) or parameter holds."""

Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A row id a caller names: positive, and within the database's integers."""

Int64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A count or a price a query compares with a column: non-negative, within its integers."""

MinorUnits = Annotated[int, Strict()]
"""Money in integer minor units in a JSON body; give it its bounds with `Field(le=...)`."""

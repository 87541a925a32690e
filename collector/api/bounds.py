"""Integer types for what the API accepts, bounded by what the database can store.

SQLite and PostgreSQL keep integers in 64 signed bits; a larger number in a path, a query or
a body must be refused as invalid (422) before it reaches SQL, where it would fail as a
server error. Every id, count and position the API takes uses one of these types, so the
bound lives in one place and shows in the OpenAPI document as ``minimum``/``maximum``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator

SQL_INT_MAX = 2**63 - 1
SQL_INT_MIN = -(2**63)
MAX_PAGE_OFFSET = 10_000_000  # beyond any real list; keeps OFFSET arithmetic small

RowId = Annotated[int, Ge(1), Le(SQL_INT_MAX)]
"""A row's id: positive, within 64 signed bits."""

Count = Annotated[int, Ge(0), Le(SQL_INT_MAX)]
"""A quantity of things held or used: never negative."""

SqlInt = Annotated[int, Ge(SQL_INT_MIN), Le(SQL_INT_MAX)]
"""Any integer a column stores (a sort position, for example)."""

PageOffset = Annotated[int, Ge(0), Le(MAX_PAGE_OFFSET)]
"""How many rows of a list to skip."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    # Left alone, a number ("0.0") would pass as seconds since 1970: a typo, not a day.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
"""A calendar day, as ``YYYY-MM-DD`` only."""

__all__ = [
    "MAX_PAGE_OFFSET",
    "SQL_INT_MAX",
    "SQL_INT_MIN",
    "Count",
    "IsoDate",
    "PageOffset",
    "RowId",
    "SqlInt",
]

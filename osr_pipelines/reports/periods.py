"""Accounting periods as ``YYYYMM`` integers, the form the warehouse stores them in.

Before a report's first month, balances arrive summed per year as ``YYYY00``: the
opening balance needs everything before, but only its year matters (result
accounts start each year at zero).
"""

from __future__ import annotations

import re
from datetime import date

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
#: the years an accounting period can be in: year 0 or 9999 is a typo, and would reach file names and queries
FIRST_YEAR, LAST_YEAR = 1900, 2999


class PeriodError(ValueError):
    """Not a month; ``reason`` says so without the leading ``what``, for a command line's own wording."""

    def __init__(self, what: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{what}: {reason}")


def parse_period(text: str, *, what: str = "--period") -> int:
    """``YYYY-MM`` as ``YYYYMM``, or a :class:`PeriodError` saying what was expected."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise PeriodError(what, f"'{text}' is not a month from {FIRST_YEAR}-01 to {LAST_YEAR}-12; write it as "
                                "YYYY-MM, e.g. 2024-03")
    return int(match.group(1)) * 100 + int(match.group(2))


def label(period: int) -> str:
    """``202403`` as ``2024-03``; a year bucket ``202400`` as ``before 2024-01``."""
    year, month = divmod(period, 100)
    return f"{year}-{month:02d}" if month else f"before {year}-01"


def shift(period: int, months: int) -> int:
    """The period ``months`` months after ``period`` (before it, if negative)."""
    year, month = divmod(period, 100)
    index = year * 12 + month - 1 + months
    return (index // 12) * 100 + index % 12 + 1


def months_between(first: int, last: int) -> list[int]:
    """Every period from ``first`` to ``last``, both included."""
    out = []
    period = first
    while period <= last:
        out.append(period)
        period = shift(period, 1)
    return out


def year_of(period: int) -> int:
    return period // 100


def january(period: int) -> int:
    return year_of(period) * 100 + 1


def current_period(today: date) -> int:
    return today.year * 100 + today.month

"""Visma.net financial periods, and the period range a date window needs.

``GeneralLedgerTransactions`` takes ``fromPeriod``/``toPeriod`` as financial
period ids (``YYYYPP`` numbered within the company's *financial* year, which
need not start in January), so a window's dates are mapped through the
company's own periods (``GET /v1/financialPeriod``) instead of being turned
into calendar months: a calendar guess names periods that do not exist, or
the wrong ones when the year starts in May.

Whether ``endDate`` is the period's last day or the next period's first day
is not documented; a range built here is right under either reading because
it takes the earliest period that may hold the first day and the latest that
may hold the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import msgspec

from osr_pipelines.connectors.base import Window


class FinancialPeriodDto(msgspec.Struct, gc=False):
    """The fields of a ``FinancialPeriodDto`` the connector reads; others are ignored."""

    period: str
    startDate: str
    endDate: str


@dataclass(frozen=True, order=True)
class Period:
    """One financial period: its id (``YYYYPP``) and its dates as the API states them."""

    start: date
    end: date
    id: str


def parse_periods(items: object) -> list[Period]:
    """The periods of a ``GET /v1/financialPeriod`` answer, in date order.

    Raises ``msgspec.ValidationError`` or ``ValueError`` for an answer of another shape.
    """
    dtos = msgspec.convert(items, type=list[FinancialPeriodDto])
    periods = [Period(date.fromisoformat(d.startDate[:10]), date.fromisoformat(d.endDate[:10]), d.period)
               for d in dtos]
    return sorted(periods)


def period_range(periods: list[Period], window: Window, margin: int) -> tuple[str, str] | None:
    """``(fromPeriod, toPeriod)`` covering every date of ``window``, widened by ``margin`` periods.

    The margin is counted in the company's own periods and never reaches past
    the first or last one, so it never names a period that does not exist; it
    catches lines posted to a neighbouring period (a January voucher posted to
    last December, say), which the date filter then keeps or drops exactly.
    ``None`` when no period overlaps the window: no line can be dated there.
    """
    first, last = window.start, window.end - timedelta(days=1)
    lo = next((i for i, p in enumerate(periods) if p.end >= first), None)
    hi = next((i for i in range(len(periods) - 1, -1, -1) if periods[i].start <= last), None)
    if lo is None or hi is None or lo > hi:
        return None
    lo, hi = max(0, lo - margin), min(len(periods) - 1, hi + margin)
    return periods[lo].id, periods[hi].id

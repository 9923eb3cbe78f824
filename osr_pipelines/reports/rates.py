"""Exchange rates for consolidation: a month's average rate for results, its closing rate for balances.

Rates are kept as NOK per one unit of a currency, the way Norges Bank
publishes them, so any presentation currency works by crossing through NOK. A
missing rate is an error naming the currency and the month: translating at
1.0 would quietly misstate a group's figures.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from osr_pipelines.reports.periods import label, parse_period

BASE = "NOK"
CSV_COLUMNS = ("currency", "period", "average", "closing")


class MissingRate(LookupError):
    """No rate for a currency in a month; the message says which, and where rates come from."""


#: fetches a currency's year: ``(currency, year) -> {YYYYMM: (average, closing)}``
YearFetcher = Callable[[str, int], dict[int, tuple[Decimal, Decimal]]]


@dataclass
class Rates:
    """NOK per unit of each currency, per month: ``(currency, YYYYMM) -> (average, closing)``.

    With ``fetch``, a currency's year is asked for the first time one of its
    months is needed, so a report fetches only the rates it uses.
    """

    source: str
    monthly: dict[tuple[str, int], tuple[Decimal, Decimal]] = field(default_factory=dict)
    fetch: YearFetcher | None = None
    _fetched: set[tuple[str, int]] = field(default_factory=set)

    def _nok(self, currency: str, period: int, which: int, what: str) -> Decimal:
        if currency == BASE:
            return Decimal(1)
        year = period // 100
        if self.fetch is not None and (currency, period) not in self.monthly and (currency, year) not in self._fetched:
            self._fetched.add((currency, year))
            self.monthly.update({(currency, p): rates for p, rates in self.fetch(currency, year).items()})
        found = self.monthly.get((currency, period))
        if found is None:
            raise MissingRate(f"no {what} rate for {currency} in {label(period)} in {self.source}; add the month's "
                              f"rates for {currency} there (NOK per 1 {currency})")
        return found[which]

    def average(self, currency: str, presentation: str, period: int) -> Decimal:
        """Units of ``presentation`` per unit of ``currency``, averaged over the month."""
        return self._nok(currency, period, 0, "average") / self._nok(presentation, period, 0, "average")

    def closing(self, currency: str, presentation: str, period: int) -> Decimal:
        """Units of ``presentation`` per unit of ``currency`` at the month's end."""
        return self._nok(currency, period, 1, "closing") / self._nok(presentation, period, 1, "closing")


def rates_from_csv(path: Path) -> Rates:
    """Rates from a CSV file with the header ``currency,period,average,closing`` (period ``YYYY-MM``)."""
    rates = Rates(source=str(path))
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ValueError(f"rates file {path}: the header must be {','.join(CSV_COLUMNS)}, "
                             f"not {','.join(reader.fieldnames or ())}")
        for line, row in enumerate(reader, start=2):
            try:
                period = parse_period(row["period"], what=f"rates file {path} line {line}: field 'period'")
                average, closing = Decimal(row["average"]), Decimal(row["closing"])
            except InvalidOperation:
                raise ValueError(f"rates file {path} line {line}: fields 'average' and 'closing' must be numbers "
                                 f"(NOK per 1 {row['currency']})") from None
            if average <= 0 or closing <= 0:
                raise ValueError(f"rates file {path} line {line}: rates must be positive")
            rates.monthly[(row["currency"].strip().upper(), period)] = (average, closing)
    return rates

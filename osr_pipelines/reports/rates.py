"""Exchange rates for consolidation: a month's average rate for results, its closing rate for balances.

Rates are kept as NOK per one unit of a currency, the way Norges Bank
publishes them, so any presentation currency works by crossing through NOK. A
missing rate is an error naming the currency and the month: translating at
1.0 would quietly misstate a group's figures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from osr_pipelines.reports import rate_levels
from osr_pipelines.reports.periods import label, parse_period
from osr_pipelines.yamlfile import read_text

BASE = "NOK"
CSV_COLUMNS = ("currency", "period", "average", "closing")
#: an optional last column: the rates are per 1 or per 100 units (Norges Bank quotes SEK, DKK, JPY per 100)
UNIT_COLUMN = "unit"
UNITS = {"": 1, "1": 1, "100": 100}
#: forty currencies over fifty years fit in well under a megabyte
MAX_BYTES = 8 * 1024 * 1024
#: problems listed in one message; a file wrong on every line says so in the count
MAX_PROBLEMS = 20
_CURRENCY = re.compile(r"[A-Za-z]{3}")
#: NOK per unit: plain decimals, no exponents, infinities or NaN
RATE_TEXT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,12})?")


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


class RatesFileError(ValueError):
    """A rates file that cannot be used; the message names the file, and each bad line and column.

    It never quotes the file: ``rates:`` may name some other file by mistake,
    and its content must not end up in an error message or a log.
    """

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS] + ([f"... and {len(problems) - MAX_PROBLEMS} more"]
                                           if len(problems) > MAX_PROBLEMS else [])
        super().__init__(f"rates file {path}:" + (f" {shown[0]}" if len(shown) == 1 else
                                                   "".join(f"\n  - {p}" for p in shown)))


def _row_problems(line: int, row: list[str], columns: tuple[str, ...]
                  ) -> tuple[list[str], tuple[str, int, Decimal, Decimal] | None]:
    """What is wrong with one data line, or its rates: ``(currency, YYYYMM, average, closing)`` in NOK per 1 unit."""
    if len(row) != len(columns):
        return [f"line {line}: must have {len(columns)} columns ({','.join(columns)}), not {len(row)}"], None
    currency, period_text, *numbers = (cell.strip() for cell in row)
    unit_text = numbers.pop() if len(columns) > len(CSV_COLUMNS) else ""
    problems = []
    if unit_text not in UNITS:
        problems.append(f"line {line}, column '{UNIT_COLUMN}': must be 1 or 100 (the rates are NOK per that many "
                        "units of the currency), or empty for 1")
    if not _CURRENCY.fullmatch(currency):
        problems.append(f"line {line}, column 'currency': must be a currency code such as SEK")
    try:
        period: int | None = parse_period(period_text)
    except ValueError:  # its message quotes the text, which this file's errors never do
        period = None
        problems.append(f"line {line}, column 'period': must be a month written YYYY-MM, such as 2024-01")
    for column, text in zip(CSV_COLUMNS[2:], numbers, strict=True):
        if not RATE_TEXT.fullmatch(text) or not Decimal(text):
            problems.append(f"line {line}, column '{column}': must be a positive number such as 0.95 "
                            f"(NOK per 1 unit of the currency)")
    if problems or period is None:
        return problems, None
    unit = UNITS[unit_text]
    code = currency.upper()
    average, closing = Decimal(numbers[0]) / unit, Decimal(numbers[1]) / unit
    for column, value in (("average", average), ("closing", closing)):
        why = rate_levels.implausible(code, value)
        if why:
            problems.append(f"line {line}, column '{column}': refused: {why}")
            break
    return problems, (None if problems else (code, period, average, closing))


def rates_from_csv(path: Path) -> Rates:
    """Rates from a CSV file with the header ``currency,period,average,closing[,unit]`` (period ``YYYY-MM``;
    rates in NOK per ``unit``, 1 or 100, units of the currency; per 1 without the column).

    Every line is checked and every problem reported at once. A currency's
    month given twice is refused rather than the last one kept, and so is a
    rate more than ten times off from Norges Bank's levels for the currency
    (:mod:`rate_levels`): typed per 100 units, it would make a subsidiary a
    hundred times too large.
    """
    try:
        text = read_text(path, max_bytes=MAX_BYTES).removeprefix("\ufeff")  # a spreadsheet's byte-order mark
    except ValueError as exc:
        raise RatesFileError(path, [str(exc)]) from None
    rates = Rates(source=str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[str] = []
    first_line: dict[tuple[str, int], int] = {}
    try:
        header = next(reader, None)
        if header is None:
            raise RatesFileError(path, [f"line 1: the header {','.join(CSV_COLUMNS)} is missing: the file is empty"])
        wrong = [i for i, name in enumerate(CSV_COLUMNS) if i >= len(header) or header[i].strip() != name]
        if wrong:
            raise RatesFileError(path, [f"line 1, column {wrong[0] + 1}: must be '{CSV_COLUMNS[wrong[0]]}' (the "
                                        f"header is {','.join(CSV_COLUMNS)}[,{UNIT_COLUMN}])"])
        columns = tuple(cell.strip() for cell in header)
        if columns not in (CSV_COLUMNS, (*CSV_COLUMNS, UNIT_COLUMN)):
            raise RatesFileError(path, [f"line 1: the header must be {','.join(CSV_COLUMNS)}, with no column "
                                        f"after '{CSV_COLUMNS[-1]}' but an optional '{UNIT_COLUMN}'"])
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            found, parsed = _row_problems(line, row, columns)
            problems.extend(found)
            if parsed is None:
                continue
            currency, period, average, closing = parsed
            if (currency, period) in first_line:
                problems.append(f"line {line}: the rates of {currency} for {label(period)} are also on line "
                                f"{first_line[currency, period]}; keep one")
                continue
            first_line[currency, period] = line
            rates.monthly[(currency, period)] = (average, closing)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not readable as CSV ({exc})")
    if problems:
        raise RatesFileError(path, problems)
    return rates

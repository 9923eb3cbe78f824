"""The income statement and the balance sheet, both read off the trial balance.

Amounts here keep the ledger's sign (debit positive) per account; the tables
turn them into a statement's signs (see :mod:`osr_pipelines.reports.tables`).
The income statement compares the month and the year to date with the same a
year earlier; the balance sheet compares the month's closing balance with last
year's 31 December, its result not yet carried to equity as ``Årets resultat``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from osr_pipelines.reports.accounts import Grouping, Line, ns4102_balance_section, ns4102_class
from osr_pipelines.reports.periods import january, months_between, shift
from osr_pipelines.reports.trial_balance import ZERO, TrialBalance

YEAR_RESULT = Line("C9", "Årets resultat")


@dataclass
class StatementLine:
    line: Line
    values: list[Decimal]
    #: (account, name, values) for each account on the line
    accounts: list[tuple[str, str, list[Decimal]]] = field(default_factory=list)


@dataclass(frozen=True)
class IncomeStatement:
    company: str
    currency: str
    period: int
    lines: list[StatementLine]
    total: list[Decimal]
    #: result (credit positive) per month, January to December, of this year and of last year
    monthly_result: dict[int, list[Decimal | None]]


def _add(values: list[Decimal], more: list[Decimal]) -> list[Decimal]:
    return [a + b for a, b in zip(values, more, strict=True)]


def _lines(per_account: dict[str, list[Decimal]], tb: TrialBalance, grouping: Grouping,
           width: int) -> list[StatementLine]:
    lines: dict[Line, StatementLine] = {}
    for account in sorted(per_account):
        line = grouping(account)
        entry = lines.setdefault(line, StatementLine(line, [ZERO] * width))
        entry.values = _add(entry.values, per_account[account])
        entry.accounts.append((account, tb.name(account), per_account[account]))
    return [lines[key] for key in sorted(lines, key=lambda ln: ln.code)]


def result_columns(tb: TrialBalance, period: int) -> dict[str, list[Decimal]]:
    """Per result account, its movement (ledger sign) in the period, the year to date, and both a year earlier;
    ``tb`` must cover January last year."""
    last_year = shift(period, -12)
    needed = january(last_year)
    if needed not in tb.periods or period not in tb.periods:
        raise ValueError(f"company '{tb.company}': the income statement for {period} needs the trial balance "
                         f"from {needed} to {period}")
    this_ytd = set(months_between(january(period), period))
    last_ytd = set(months_between(january(last_year), last_year))
    out: dict[str, list[Decimal]] = {}
    for row in tb.rows:
        if tb.accounts[row.account].is_balance or row.period not in this_ytd | last_ytd:
            continue
        flags = (row.period == period, row.period in this_ytd, row.period == last_year, row.period in last_ytd)
        out[row.account] = _add(out.get(row.account, [ZERO] * 4), [row.movement if f else ZERO for f in flags])
    return {a: v for a, v in out.items() if any(v)}


def monthly_result(tb: TrialBalance, period: int) -> dict[int, list[Decimal | None]]:
    """The result (credit positive) per month, January to December, of ``period``'s year and the year before;
    ``None`` for months after ``period``."""
    monthly: dict[int, list[Decimal | None]] = {period // 100: [None] * 12, period // 100 - 1: [None] * 12}
    for year, months in monthly.items():
        for p in months_between(year * 100 + 1, period if year == period // 100 else year * 100 + 12):
            if p in tb.periods:
                months[p % 100 - 1] = -sum((r.movement for r in tb.of(p) if not tb.accounts[r.account].is_balance),
                                           ZERO)
    return monthly


def income_statement(tb: TrialBalance, period: int, grouping: Grouping = ns4102_class) -> IncomeStatement:
    """The period, its year to date, and both a year earlier, profit positive, by ``grouping``."""
    per_account = {a: [-v for v in values] for a, values in result_columns(tb, period).items()}
    lines = [line for line in _lines(per_account, tb, grouping, 4) if any(line.values)]
    total = [sum((line.values[i] for line in lines), ZERO) for i in range(4)]
    return IncomeStatement(tb.company, tb.currency, period, lines, total, monthly_result(tb, period))


def balance_columns(tb: TrialBalance, period: int) -> tuple[dict[str, list[Decimal]], list[Decimal]]:
    """Per balance account its closing balance (ledger sign) at ``period`` and at last year's 31 December, and
    the result accounts' sum at both (the result of the year so far: not yet carried to equity)."""
    december = period // 100 * 100 - 100 + 12
    if december not in tb.periods:
        raise ValueError(f"company '{tb.company}': the balance sheet for {period} needs the trial balance "
                         f"from {december}")
    out: dict[str, list[Decimal]] = {}
    result = [ZERO, ZERO]
    for column, month in enumerate((period, december)):
        for row in tb.of(month):
            if tb.accounts[row.account].is_balance:
                out.setdefault(row.account, [ZERO, ZERO])[column] = row.closing
            else:
                result[column] += row.closing
    return {a: v for a, v in out.items() if any(v)}, result


@dataclass(frozen=True)
class BalanceSheet:
    company: str
    currency: str
    periods: list[int]
    #: per period, the lines with (closing, closing at last year's 31 December), ledger sign
    by_period: dict[int, list[StatementLine]]

    def total(self, period: int) -> list[Decimal]:
        return [sum((line.values[i] for line in self.by_period[period]), ZERO) for i in range(2)]


def balance_sheet(tb: TrialBalance, periods: list[int], grouping: Grouping = ns4102_balance_section) -> BalanceSheet:
    """The closing balance per line at each of ``periods`` against last year's 31 December, by ``grouping``."""
    by_period = {}
    for period in periods:
        per_account, result = balance_columns(tb, period)
        lines = _lines(per_account, tb, grouping, 2)
        lines.append(StatementLine(YEAR_RESULT, result))
        by_period[period] = lines
    return BalanceSheet(tb.company, tb.currency, periods, by_period)

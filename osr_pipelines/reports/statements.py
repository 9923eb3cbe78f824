"""The income statement and the balance sheet, both read off the trial balance.

The income statement shows results the way readers expect them: revenue
positive, costs negative, a profit positive (the ledger's debit-positive sign,
turned). The balance sheet keeps the ledger's sign, so assets are positive,
equity and liabilities negative, and every column sums to zero; the result not
yet carried to equity is its own line, ``Årets resultat``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from osr_pipelines.reports.accounts import Grouping, Line, ns4102_balance_section, ns4102_class
from osr_pipelines.reports.periods import january, months_between, shift
from osr_pipelines.reports.trial_balance import ZERO, TrialBalance

BALANCE_COLUMNS = ("opening", "movement", "closing")
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


def income_statement(tb: TrialBalance, period: int, grouping: Grouping = ns4102_class) -> IncomeStatement:
    """The period, its year to date, and both a year earlier; ``tb`` must cover January last year."""
    last_year = shift(period, -12)
    needed = january(last_year)
    if needed not in tb.periods or period not in tb.periods:
        raise ValueError(f"company '{tb.company}': the income statement for {period} needs the trial balance "
                         f"from {needed} to {period}")
    this_ytd = set(months_between(january(period), period))
    last_ytd = set(months_between(january(last_year), last_year))
    per_account: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * 4)
    monthly: dict[int, list[Decimal | None]] = {period // 100: [None] * 12, last_year // 100: [None] * 12}
    for row in tb.rows:
        if tb.accounts[row.account].is_balance or row.period not in this_ytd | last_ytd:
            continue
        result = -row.movement
        flags = (row.period == period, row.period in this_ytd, row.period == last_year, row.period in last_ytd)
        per_account[row.account] = _add(per_account[row.account], [result if f else ZERO for f in flags])
    for year, months in monthly.items():
        for p in months_between(year * 100 + 1, period if year == period // 100 else year * 100 + 12):
            if p in tb.periods:
                months[p % 100 - 1] = -sum((r.movement for r in tb.of(p) if not tb.accounts[r.account].is_balance),
                                           ZERO)
    lines = [line for line in _lines(per_account, tb, grouping, 4) if any(line.values)]
    total = [sum((line.values[i] for line in lines), ZERO) for i in range(4)]
    return IncomeStatement(tb.company, tb.currency, period, lines, total, monthly)


@dataclass(frozen=True)
class BalanceSheet:
    company: str
    currency: str
    periods: list[int]
    #: per period, the lines with (opening, movement, closing)
    by_period: dict[int, list[StatementLine]]

    def total(self, period: int) -> list[Decimal]:
        return [sum((line.values[i] for line in self.by_period[period]), ZERO) for i in range(3)]


def balance_sheet(tb: TrialBalance, periods: list[int] | None = None,
                  grouping: Grouping = ns4102_balance_section) -> BalanceSheet:
    """Opening, movement and closing per line for each period (all of the trial balance's by default)."""
    chosen = periods or tb.periods
    by_period = {}
    for period in chosen:
        per_account: dict[str, list[Decimal]] = {}
        result = [ZERO, ZERO, ZERO]
        for row in tb.of(period):
            values = [row.opening, row.movement, row.closing]
            if tb.accounts[row.account].is_balance:
                per_account[row.account] = values
            else:
                result = _add(result, values)
        lines = _lines(per_account, tb, grouping, 3)
        lines.append(StatementLine(YEAR_RESULT, result))
        by_period[period] = lines
    return BalanceSheet(tb.company, tb.currency, chosen, by_period)

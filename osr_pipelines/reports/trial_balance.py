"""The trial balance: per account and month, opening, debit, credit, movement and closing.

Balance-sheet accounts carry their balance over the year end. Result accounts
start each year at zero, and what they held at the year end is carried to
retained earnings, the way the year-end closing entry would; a ledger that
already holds that entry carries zero. The walk below runs over account totals
per month (a few thousand numbers), never over postings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from osr_pipelines.reports.accounts import RETAINED_EARNINGS, Account
from osr_pipelines.reports.ledger import Ledger
from osr_pipelines.reports.periods import months_between, year_of

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    period: int
    opening: Decimal
    debit: Decimal
    credit: Decimal

    @property
    def movement(self) -> Decimal:
        return self.debit - self.credit

    @property
    def closing(self) -> Decimal:
        return self.opening + self.movement


@dataclass(frozen=True)
class TrialBalance:
    company: str
    currency: str
    periods: list[int]
    accounts: dict[str, Account]
    #: rows of accounts with an opening balance or a movement, by period then account
    rows: list[TrialBalanceRow]
    retained_earnings: str

    def of(self, period: int) -> list[TrialBalanceRow]:
        return [r for r in self.rows if r.period == period]

    def name(self, account: str) -> str:
        known = self.accounts.get(account)
        return known.name if known else ""


def trial_balance(ledger: Ledger, retained_earnings: str = RETAINED_EARNINGS) -> TrialBalance:
    """The trial balance of every month of the ledger's range."""
    periods = months_between(ledger.from_period, ledger.to_period)
    first_year = year_of(ledger.from_period)
    accounts = dict(ledger.accounts)
    if retained_earnings not in accounts:
        accounts[retained_earnings] = Account(retained_earnings, "", True)
    balance: dict[str, Decimal] = defaultdict(lambda: ZERO)
    moves: dict[int, dict[str, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for account, period, debit, credit in ledger.rows:
        if period < ledger.from_period:
            carried_over = not accounts[account].is_balance and year_of(period) < first_year
            balance[retained_earnings if carried_over else account] += debit - credit
        else:
            d, c = moves[period].get(account, (ZERO, ZERO))
            moves[period][account] = (d + debit, c + credit)
    rows: list[TrialBalanceRow] = []
    for period in periods:
        if period % 100 == 1 and period != ledger.from_period:
            _close_year(balance, accounts, retained_earnings)
        month = moves.get(period, {})
        for account in sorted(set(balance) | set(month)):
            debit, credit = month.get(account, (ZERO, ZERO))
            opening = balance[account]
            if opening or debit or credit:
                rows.append(TrialBalanceRow(account, period, opening, debit, credit))
            balance[account] = opening + debit - credit
    return TrialBalance(ledger.company, ledger.currency, periods, accounts, rows, retained_earnings)


def _close_year(balance: dict[str, Decimal], accounts: dict[str, Account], retained_earnings: str) -> None:
    result = [a for a in balance if not accounts[a].is_balance]
    balance[retained_earnings] += sum((balance[a] for a in result), ZERO)
    for account in result:
        balance[account] = ZERO


# -- reconciliation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A place where the trial balance does not reconcile, and by how much."""

    period: int
    account: str | None
    expected: Decimal
    found: Decimal


def unbalanced_months(tb: TrialBalance) -> list[Difference]:
    """Months whose closing balances (and whose debits against credits) do not sum to zero."""
    out = []
    for period in tb.periods:
        rows = tb.of(period)
        closing = sum((r.closing for r in rows), ZERO)
        movement = sum((r.movement for r in rows), ZERO)
        if closing or movement:
            out.append(Difference(period, None, ZERO, closing if closing else movement))
    return out


def broken_carry_forward(tb: TrialBalance) -> list[Difference]:
    """Accounts whose opening in month M+1 is not the closing of month M.

    Across a year end the expectation follows the closing rule, worked out
    again from the rows: result accounts open at zero and retained earnings
    open with their closing plus the result accounts' closings.
    """
    out = []
    for previous, period in zip(tb.periods, tb.periods[1:], strict=False):
        closing = {r.account: r.closing for r in tb.of(previous)}
        opening = {r.account: r.opening for r in tb.of(period)}
        expected = dict(closing)
        if period % 100 == 1:
            result = [a for a in closing if not tb.accounts[a].is_balance]
            carried = sum((closing[a] for a in result), ZERO)
            for account in result:
                expected[account] = ZERO
            expected[tb.retained_earnings] = expected.get(tb.retained_earnings, ZERO) + carried
        for account in sorted(set(expected) | set(opening)):
            want, got = expected.get(account, ZERO), opening.get(account, ZERO)
            if want != got:
                out.append(Difference(period, account, want, got))
    return out

"""One entry point per report kind, used alike by the assets and by ``osr report``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from osr_pipelines.reports.ledger import Ledger
from osr_pipelines.reports.periods import january, shift
from osr_pipelines.reports.statements import balance_sheet, income_statement
from osr_pipelines.reports.tables import (
    Table,
    balance_sheet_table,
    income_statement_table,
    trial_balance_table,
)
from osr_pipelines.reports.trial_balance import (
    Difference,
    TrialBalance,
    broken_carry_forward,
    trial_balance,
    unbalanced_months,
)

KINDS = ("trial-balance", "income-statement", "balance-sheet")


def ledger_range(period: int) -> tuple[int, int]:
    """What every report of ``period`` needs: from January last year (for comparisons) to ``period``."""
    return january(shift(period, -12)), period


@dataclass(frozen=True)
class Report:
    kind: str
    company: str
    currency: str
    period: int
    tables: list[Table]
    #: result per month, January to December, keyed by year (this year and last)
    monthly_result: dict[int, list[Decimal | None]]
    trial_balance: TrialBalance

    @property
    def unbalanced(self) -> list[Difference]:
        return unbalanced_months(self.trial_balance)

    @property
    def broken_carry_forward(self) -> list[Difference]:
        return broken_carry_forward(self.trial_balance)


def build_report(kind: str, ledger: Ledger, period: int) -> Report:
    """Report ``kind`` of ``period`` from a ledger covering :func:`ledger_range` of it."""
    if kind not in KINDS:
        raise ValueError(f"unknown report '{kind}' (known: {', '.join(KINDS)})")
    tb = trial_balance(ledger)
    statement = income_statement(tb, period)
    if kind == "trial-balance":
        table = trial_balance_table(tb, period)
    elif kind == "income-statement":
        table = income_statement_table(statement)
    else:
        table = balance_sheet_table(balance_sheet(tb, [period]), period)
    return Report(kind, ledger.company, ledger.currency, period, [table], statement.monthly_result, tb)

"""One entry point per report kind, used alike by the assets and by ``osr report``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from osr_pipelines.reports import saft
from osr_pipelines.reports.accounts import ns4102_balance_section, ns4102_class
from osr_pipelines.reports.ledger import Ledger
from osr_pipelines.reports.periods import january, shift
from osr_pipelines.reports.statements import balance_sheet, income_statement
from osr_pipelines.reports.tables import (
    Row,
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
NS4102 = "ns4102"
GROUP_BY = (NS4102, *saft.LEVELS)


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


def build_report(kind: str, ledger: Ledger, period: int, group_by: str = NS4102) -> Report:
    """Report ``kind`` of ``period`` from a ledger covering :func:`ledger_range` of it, its lines grouped
    by NS 4102 or by a SAF-T level (standard accounts, RF-1167 or RF-1175 grouping codes)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report '{kind}' (known: {', '.join(KINDS)})")
    tb = trial_balance(ledger)
    saft_mapping = None if group_by == NS4102 else saft.mapping(ledger.company, group_by)
    lines = saft_mapping.grouping() if saft_mapping else ns4102_class
    sections = saft_mapping.grouping() if saft_mapping else ns4102_balance_section
    statement = income_statement(tb, period, lines)
    if kind == "trial-balance":
        table = trial_balance_table(tb, period)
    elif kind == "income-statement":
        table = income_statement_table(statement)
    else:
        table = balance_sheet_table(balance_sheet(tb, [period], sections), period)
    tables = [table]
    if saft_mapping is not None:
        unmapped = saft_mapping.unmapped({r.account for r in tb.of(period)})
        tables.append(Table(f"Accounts not mapped to {group_by} (map them in {saft.mapping_path().name})",
                            ("Account", "Name"), [Row((a, tb.name(a))) for a in unmapped]))
    return Report(kind, ledger.company, ledger.currency, period, tables, statement.monthly_result, tb)

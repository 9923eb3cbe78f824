"""One entry point per report kind, used alike by the assets and by ``osr report``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from osr_pipelines.reports import saft
from osr_pipelines.reports.accounts import BALANCE_LAYOUT, INCOME_LAYOUT
from osr_pipelines.reports.language import text
from osr_pipelines.reports.ledger import Ledger
from osr_pipelines.reports.periods import january, label, shift
from osr_pipelines.reports.statements import (
    balance_columns,
    balance_sheet,
    income_statement,
    monthly_result,
    result_columns,
)
from osr_pipelines.reports.tables import (
    ACCOUNT,
    Row,
    Table,
    balance_sheet_table,
    income_statement_table,
    statutory_table,
    trial_balance_table,
)
from osr_pipelines.reports.tables import balance_columns as balance_headings
from osr_pipelines.reports.trial_balance import (
    ZERO,
    Difference,
    TrialBalance,
    broken_carry_forward,
    trial_balance,
    unbalanced_months,
)

KINDS = ("trial-balance", "income-statement", "balance-sheet")
NS4102 = "ns4102"
GROUP_BY = (NS4102, *saft.LEVELS)
#: ``statement``: as the statements show them (income, equity and liabilities positive); ``ledger``: debit positive
SIGNS = ("statement", "ledger")


def ledger_signs(signs: str) -> bool:
    """Whether ``signs`` keeps the ledger's signs (debit positive) rather than turning them into the statements'
    own, for the company and the consolidated statements alike; an unknown choice is refused."""
    if signs not in SIGNS:
        raise ValueError(f"unknown signs '{signs}' (known: {', '.join(SIGNS)})")
    return signs == "ledger"


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
    lang: str = "nb"
    #: accounts the report's lines do not cover (no statutory line, or no SAF-T code)
    unmapped: list[str] = field(default_factory=list)
    #: ``ns4102`` (the statutory layout) or the SAF-T level the lines are grouped by
    group_by: str = NS4102
    #: Sum eiendeler against Sum egenkapital og gjeld (ledger sign, so zero when they agree), per column
    balance_difference: list[Decimal] = field(default_factory=list)

    @property
    def unbalanced(self) -> list[Difference]:
        return unbalanced_months(self.trial_balance)

    @property
    def broken_carry_forward(self) -> list[Difference]:
        return broken_carry_forward(self.trial_balance)


#: The budget column's heading: the scenario shown and the month.
BUDGET_HEADING = {"nb": "Budsjett {scenario} {period}", "en": "Budget {scenario} {period}"}


@dataclass(frozen=True)
class Budget:
    """A scenario's budget of the report's month per account, in the ledger's sign (from the ``budgets`` table)."""

    scenario: str
    accounts: dict[str, Decimal]


def build_report(kind: str, ledger: Ledger, period: int, group_by: str = NS4102, *, lang: str = "nb",
                 signs: str = "statement", budget: Budget | None = None) -> Report:
    """Report ``kind`` of ``period`` from a ledger covering :func:`ledger_range` of it.

    By NS 4102 the income statement and balance sheet follow the statutory layout, in ``signs``; by a
    SAF-T level (standard accounts, RF-1167 or RF-1175 grouping codes) their lines are that level's codes,
    the income statement profit positive and the balance sheet in the ledger's sign. A ``budget`` adds its
    column to the statutory income statement, after the actuals.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown report '{kind}' (known: {', '.join(KINDS)})")
    as_ledger = ledger_signs(signs)
    tb = trial_balance(ledger)
    title = f"{text(kind, lang)} {label(period)} ({tb.currency})"
    names = {a: tb.name(a) for a in tb.accounts}
    balance = {a: acc.is_balance for a, acc in tb.accounts.items()}
    unmapped: list[str] = []
    difference: list[Decimal] = []
    if kind == "trial-balance":
        table = trial_balance_table(tb, period, lang)
    elif group_by == NS4102 and kind == "income-statement":
        last = label(shift(period, -12))
        columns = (label(period), text("ytd", lang, period=label(period)), last, text("ytd", lang, period=last))
        values = result_columns(tb, period)
        if budget is not None:
            columns += (BUDGET_HEADING[lang].format(scenario=budget.scenario, period=label(period)),)
            values = {a: [*values.get(a, [ZERO] * 4), budget.accounts.get(a, ZERO)]
                      for a in values.keys() | budget.accounts.keys()}
            for account in budget.accounts:  # budgeted on an account without postings: a result account
                names.setdefault(account, account)
                balance.setdefault(account, False)
        statement = statutory_table(title, columns, INCOME_LAYOUT, values, names, balance, lang, as_ledger)
        table, unmapped = statement.table, statement.unplaced
    elif group_by == NS4102:
        values, result = balance_columns(tb, period)
        statement = statutory_table(title, balance_headings(period, lang), BALANCE_LAYOUT, values, names, balance,
                                    lang, as_ledger, result)
        table, unmapped = statement.table, statement.unplaced
        totals = statement.ledger_totals
        difference = [a + b for a, b in zip(totals["sum eiendeler"], totals["sum egenkapital og gjeld"],
                                            strict=True)]
    else:
        mapping = saft.mapping(ledger.company, group_by, stated=ledger.groups)
        if kind == "income-statement":
            table = income_statement_table(income_statement(tb, period, mapping.grouping()), lang)
        else:
            table = balance_sheet_table(balance_sheet(tb, [period], mapping.grouping()), period, lang)
        unmapped = mapping.unmapped({r.account for r in tb.of(period)})
    tables = [table]
    if unmapped:
        where = text("not mapped", lang) if group_by == NS4102 else \
            f"{text('not mapped', lang)}: {group_by} ({saft.mapping_path().name})"
        tables.append(Table(where, (text("Account", lang), text("Name", lang)),
                            [Row((a, tb.name(a)), kind=ACCOUNT) for a in unmapped]))
    return Report(kind, ledger.company, ledger.currency, period, tables, monthly_result(tb, period), tb, lang,
                  unmapped, group_by, difference if any(difference) else [])

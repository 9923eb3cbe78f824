"""A company's budget as reports read it: one scenario, summed per account (and project) by the database.

A company may keep several scenarios (a budget and its revision, say); reports
show one, named beside its figures: the first by name, as no ERP marks a
default in a way every ERP shares.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, func, select

from osr_pipelines.reports.build import Budget
from osr_pipelines.warehouse.schema import budgets


def scenario(engine: Engine, company: str) -> str | None:
    """The scenario reports show: the first by name of the company's, ``None`` where it has no budget."""
    with engine.connect() as conn:
        return conn.execute(select(func.min(budgets.c.scenario)).where(budgets.c.company == company)).scalar()


def month_budget(engine: Engine, company: str, period: int, chosen: str) -> dict[str, Decimal]:
    """The ``chosen`` scenario's budget of ``period`` per account, in the ledger's sign."""
    b = budgets.c
    with engine.connect() as conn:
        return {account: Decimal(total) for account, total in conn.execute(
            select(b.account, func.sum(b.amount))
            .where(b.company == company, b.scenario == chosen, b.period == period).group_by(b.account))}


def report_budget(engine: Engine, company: str, kind: str, period: int, source: str) -> Budget | None:
    """The budget a company's ``kind`` report of ``period`` shows, ``None`` where it shows none.

    One rule for ``osr report`` and the report assets, so that both show the same column: only the
    income statement has one, and only a company read from the warehouse, where the budgets are.
    """
    chosen = scenario(engine, company) if source == "warehouse" and kind == "income-statement" else None
    return Budget(chosen, month_budget(engine, company, period, chosen)) if chosen else None

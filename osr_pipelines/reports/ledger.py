"""A company's ledger as reports need it: account totals per month, never single postings.

Two sources give the same shape. Imported companies are aggregated by the
warehouse in one grouped query; direct companies by the ERP, through
:class:`~osr_pipelines.connectors.base.DirectConnector`. Everything a report shows
is computed from these totals, so the two kinds of connection report alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, case, func, select

from osr_pipelines.connectors.base import BalanceRow, DirectConnector
from osr_pipelines.reports.accounts import Account, chart
from osr_pipelines.warehouse.schema import dimension_tables, gl_postings

CENT = Decimal("0.01")
#: A company whose postings say nothing about its currency is taken to keep its books in NOK.
DEFAULT_CURRENCY = "NOK"


def cents(value: object) -> Decimal:
    """An amount as exact cents; SQLite sums in floating point, so its totals are rounded here."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT)


@dataclass(frozen=True)
class Ledger:
    """Debit and credit per account and period, for ``from_period`` to ``to_period``.

    Rows before ``from_period`` are summed per year (period ``YYYY00``). ``groups`` keeps each account's
    ``account_group`` where the source gave one (a SAF-T file's own standard account and grouping code).
    """

    company: str
    currency: str
    from_period: int
    to_period: int
    accounts: dict[str, Account]
    rows: tuple[BalanceRow, ...]
    groups: dict[str, str] = field(default_factory=dict)


def _ledger(company: str, currency: str, from_period: int, to_period: int,
            known: dict[str, tuple[str | None, str | None, str | None]], rows: Iterable[BalanceRow]) -> Ledger:
    if from_period > to_period:
        raise ValueError(f"company '{company}': the first period {from_period} is after the last {to_period}")
    clean = tuple((str(a), int(p), cents(d), cents(c)) for a, p, d, c in rows)
    typed = {number: (name, kind) for number, (name, kind, _) in known.items()}
    groups = {number: group for number, (_, _, group) in known.items() if group}
    return Ledger(company, currency, from_period, to_period, chart(typed, {r[0] for r in clean}), clean, groups)


def warehouse_balances(engine: Engine, company: str, from_period: int, to_period: int) -> list[BalanceRow]:
    """The one grouped query over ``gl_postings``: the database sums, Python never sees a posting."""
    g = gl_postings.c
    bucket = case((g.period < from_period, (g.period // 100) * 100), else_=g.period).label("bucket")
    query = (
        select(g.account, bucket,
               func.sum(case((g.amount > 0, g.amount), else_=0)),
               func.sum(case((g.amount < 0, -g.amount), else_=0)))
        .where(g.company == company, g.period <= to_period)
        .group_by(g.account, bucket)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def warehouse_currency(engine: Engine, company: str) -> str:
    """The company's currency: the one whose lines carry the same amount in both amount columns.

    The warehouse keeps no currency per company, but a domestic posting line
    always has ``amount_currency = amount``; the most frequent such currency is
    the company's (a foreign line matches only by the accident of a rate of 1).
    """
    g = gl_postings.c
    query = (select(g.currency, func.count().label("n"))
             .where(g.company == company, g.amount == g.amount_currency, g.currency.is_not(None))
             .group_by(g.currency).order_by(func.count().desc(), g.currency).limit(1))
    with engine.connect() as conn:
        found = conn.execute(query).first()
    return found[0] if found else DEFAULT_CURRENCY


def warehouse_accounts(engine: Engine, company: str) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Name, type and group of each account, in one query."""
    a = dimension_tables["accounts"].c
    with engine.connect() as conn:
        return {number: (name, kind, group) for number, name, kind, group in conn.execute(
            select(a.number, a.name, a.account_type, a.account_group)
            .where(a.company == company, a.number.is_not(None)))}


def warehouse_period_range(engine: Engine, company: str) -> tuple[int, int] | None:
    """The first and last period with postings, or ``None`` for a company without any."""
    g = gl_postings.c
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(g.period), func.max(g.period)).where(g.company == company)).one()
    return None if first is None else (int(first), int(last))


def from_warehouse(engine: Engine, company: str, from_period: int, to_period: int) -> Ledger:
    return _ledger(company, warehouse_currency(engine, company), from_period, to_period,
                   warehouse_accounts(engine, company), warehouse_balances(engine, company, from_period, to_period))


def from_direct(connector: DirectConnector, company: str, erp_id: str, from_period: int, to_period: int) -> Ledger:
    """The ledger asked of the ERP live; it lives only as long as the report being rendered."""
    known = {row[1]: (row[2], row[3], row[4])
             for batch in connector.stream_dimension(erp_id, "accounts") for row in batch}
    return _ledger(company, connector.currency(erp_id), from_period, to_period, known,
                   connector.balances(erp_id, from_period, to_period))

"""A company's year as SAF-T Financial 1.30, from the warehouse, whatever ERP it came from.

Opening and closing balances are the trial balance's (``reports.trial_balance``),
so the file opens the year exactly as every report does: balance-sheet accounts
carry their balance, and results of earlier years sit on retained earnings.
The year's lines stream from the database into the file; the file is checked
against the 1.30 XSD before it takes its final name, and refused, with each
problem listed, when it would not be valid.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from itertools import groupby
from pathlib import Path

from sqlalchemy import Engine, case, func, select

from osr_pipelines.reports.ledger import from_warehouse
from osr_pipelines.reports.saft import mapping, mapping_path
from osr_pipelines.reports.trial_balance import trial_balance
from osr_pipelines.saft_export.validate import problems
from osr_pipelines.saft_export.writer import (
    AccountEntry,
    AnalysisEntry,
    Header,
    LineEntry,
    Party,
    Totals,
    TransactionEntry,
    write_saft,
)
from osr_pipelines.warehouse.schema import companies, dimension_tables, gl_postings

CENT = Decimal("0.01")
#: The analysis types departments and projects are written as: the common ones (``A`` Avdeling, ``P`` Prosjekt).
DEPARTMENT, PROJECT = ("A", "Avdeling"), ("P", "Prosjekt")
#: Accounts that bring no grouping code of their own (from a SAF-T 1.30 file) get their RF-1167 code (Næringsoppgave
#: 2) from the reports' SAF-T mapping: the code lists, the NS 4102 ranges, and the user's mapping file.
GROUPING = "RF-1167"


class ExportRefused(Exception):
    """The company cannot be exported as asked; ``problems`` lists why, each on a line of its own."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__("\n".join([message, *(f"  {p}" for p in self.problems)]))


@dataclass(frozen=True)
class Exported:
    path: Path
    accounts: int
    transactions: int
    lines: int


def _amount(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _software_version() -> str:
    try:
        return version("osr-pipelines")
    except PackageNotFoundError:
        return "unknown"


def default_name(organization_number: str, created: datetime) -> str:
    """The Tax Administration's naming: ``SAF-T Financial_<organisation number>_<yyyymmddhhmmss>.xml``."""
    return f"SAF-T Financial_{organization_number}_{created:%Y%m%d%H%M%S}.xml"


def _own_grouping(group: str | None) -> tuple[str, str] | None:
    """The grouping code an account imported from a SAF-T 1.30 file brought along (``account_group``)."""
    for token in (group or "").split():
        category, _, code = token.partition(":")
        if category.startswith("RF-") and code:
            return category, code
    return None


def _company(engine: Engine, key: str) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(select(companies.c.name, companies.c.organization_number, companies.c.erp_id)
                           .where(companies.c.company == key)).first()
    if row is None:
        raise ExportRefused(f"company '{key}' has no rows in the warehouse; import it first "
                            f"(osr import full --company {key})")
    number = row.organization_number or (row.erp_id if re.fullmatch(r"[0-9]{9}", row.erp_id or "") else None)
    if not number:
        raise ExportRefused(f"company '{key}' has no organisation number, which SAF-T requires "
                            "(Header/Company/RegistrationNumber); set organization_number in the registry and "
                            "import it again")
    return row.name or key, number


def _dimension(engine: Engine, key: str, name: str) -> list:
    table = dimension_tables[name]
    with engine.connect() as conn:
        return list(conn.execute(select(table).where(table.c.company == key).order_by(table.c.id)))


def _year_scope(key: str, year: int) -> object:
    g = gl_postings.c
    return (g.company == key) & (g.period >= year * 100 + 1) & (g.period <= year * 100 + 12)


def _totals(engine: Engine, key: str, year: int) -> Totals:
    g = gl_postings.c
    vouchers = select(g.voucher_number).where(_year_scope(key, year)).group_by(
        g.voucher_number, g.voucher_date, g.period).subquery()
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(vouchers)).scalar_one()
        debit, credit = conn.execute(select(
            func.sum(case((g.amount > 0, g.amount), else_=0)),
            func.sum(case((g.amount < 0, -g.amount), else_=0))).where(_year_scope(key, year))).one()
    return Totals(int(count), _amount(debit), _amount(credit))


def _analysis(row: object) -> tuple[tuple[str, str], ...]:
    out = []
    if row.department:
        out.append((DEPARTMENT[0], row.department))
    if row.project:
        out.append((PROJECT[0], row.project))
    for free in (row.free_dimension_1, row.free_dimension_2, row.free_dimension_3):
        kind, _, value = (free or "").partition(":")
        if kind and value:
            out.append((kind, value))
    return tuple(out)


def _transactions(engine: Engine, key: str, year: int, currency: str) -> Iterator[TransactionEntry]:
    g = gl_postings.c
    query = (select(g.voucher_number, g.voucher_date, g.period, g.account, g.amount, g.currency, g.amount_currency,
                    g.description, g.department, g.project, g.customer, g.supplier, g.free_dimension_1,
                    g.free_dimension_2, g.free_dimension_3)
             .where(_year_scope(key, year))
             .order_by(g.voucher_date, g.voucher_number, g.period, g.posting_id))
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
        for (voucher, day, period), lines in groupby(rows, key=lambda r: (r.voucher_number, r.voucher_date, r.period)):
            day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            entries = []
            first_description = None
            for r in lines:
                first_description = first_description or r.description
                foreign = r.currency and r.currency != currency and r.amount_currency is not None
                entries.append(LineEntry(r.account, r.description or "", _amount(r.amount),
                                         r.currency if foreign else None,
                                         _amount(r.amount_currency) if foreign else None,
                                         _analysis(r), r.customer, r.supplier))
            yield TransactionEntry(voucher or "-", day, int(period), first_description or voucher or "-", entries)


def export_company(engine: Engine, key: str, year: int, out: Path | None = None, *,
                   today: date | None = None) -> Exported:
    """Write ``key``'s ``year`` as SAF-T 1.30 to ``out`` (default: the Tax Administration's file name in the
    current folder); refused with the XSD's problems listed if the file would be invalid."""
    created = today or date.today()
    name, number = _company(engine, key)
    ledger = from_warehouse(engine, key, year * 100 + 1, year * 100 + 12)
    tb = trial_balance(ledger)
    opening = {r.account: r.opening for r in tb.of(year * 100 + 1)}
    closing = {r.account: r.closing for r in tb.of(year * 100 + 12)}
    known = {row.number or row.id: row for row in _dimension(engine, key, "accounts")}
    numbers = sorted(set(known) | set(opening) | set(closing))
    try:
        grouped = mapping(key, GROUPING, stated=ledger.groups)
    except ValueError as exc:  # a mapping file that cannot be used says what is wrong with it
        raise ExportRefused(f"company '{key}': {exc}") from None
    accounts, unmapped = [], []
    for account in numbers:
        row = known.get(account)
        # as the reports rank them: the mapping file's override, the file's own code (whatever its category), rules
        own = None if account in grouped.overrides else _own_grouping(row.account_group if row else None)
        category, code = own or (GROUPING, grouped.code(account))
        if code is None:
            unmapped.append(account)
            continue
        accounts.append(AccountEntry(account, (row.name if row else None) or tb.name(account) or account,
                                     category, code, opening.get(account, Decimal(0)),
                                     closing.get(account, Decimal(0))))
    if unmapped:
        raise ExportRefused(f"company '{key}': SAF-T 1.30 needs a grouping code for every account, and these have "
                            f"none: map them under {GROUPING} in the SAF-T mapping file ({mapping_path()}); "
                            "nothing was written", [f"account {a}" for a in unmapped[:50]])
    customers = [Party(r.id, r.name or r.id, r.organization_number) for r in _dimension(engine, key, "customers")]
    suppliers = [Party(r.id, r.name or r.id, r.organization_number) for r in _dimension(engine, key, "suppliers")]
    analysis = [AnalysisEntry(kind, described, r.id, r.name or r.id)
                for (kind, described), dim in ((DEPARTMENT, "departments"), (PROJECT, "projects"))
                for r in _dimension(engine, key, dim)]
    target = out or Path(default_name(number, datetime.now()))
    partial = target.with_name(f".{target.name}.partial")
    header = Header(number, name, ledger.currency, date(year, 1, 1), date(year, 12, 31), created,
                    _software_version())
    totals = _totals(engine, key, year)
    written = [0]

    def counted() -> Iterator[TransactionEntry]:
        for tx in _transactions(engine, key, year, ledger.currency):
            written[0] += len(tx.lines)
            yield tx

    try:
        with partial.open("wb") as handle:
            write_saft(handle, header, accounts, customers, suppliers, analysis, totals, counted())
        found = problems(partial, "1.30")
        if found:
            raise ExportRefused(f"company '{key}': the SAF-T file for {year} would not be valid SAF-T Financial "
                                f"1.30 ({len(found)} problems); nothing was written", found[:50])
        os.replace(partial, target)
    except OSError as exc:
        raise ExportRefused(f"company '{key}': {target} cannot be written ({exc.strerror}); nothing was written"
                            ) from None
    finally:
        partial.unlink(missing_ok=True)
    return Exported(target, len(accounts), totals.transactions, written[0])

"""The warehouse schema as releases before migrations created it (``create_all``, no version table), frozen.

Tests build such a warehouse, fill every table, and open it with the current code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url

LEGACY = MetaData()
_AMOUNT = Numeric(18, 2, asdecimal=True)
_TIMESTAMP = DateTime().with_variant(String(32), "sqlite")

Table(
    "gl_postings", LEGACY,
    Column("company", String(120), primary_key=True),
    Column("posting_id", String(64), primary_key=True),
    Column("voucher_number", String(64)),
    Column("voucher_date", Date, nullable=False),
    Column("period", Integer, nullable=False),
    Column("account", String(32), nullable=False),
    Column("amount", _AMOUNT, nullable=False),
    Column("currency", String(3)),
    Column("amount_currency", _AMOUNT),
    Column("description", Text),
    Column("department", String(64)),
    Column("project", String(64)),
    Column("customer", String(64)),
    Column("supplier", String(64)),
    Column("free_dimension_1", String(64)),
    Column("free_dimension_2", String(64)),
    Column("free_dimension_3", String(64)),
    Column("source_changed_at", _TIMESTAMP),
    Column("import_run_id", String(64)),
    Index("ix_gl_postings_company_date", "company", "voucher_date"),
)
_DIMENSIONS = {
    "accounts": (Column("number", String(32)), Column("name", Text), Column("account_type", String(16)),
                 Column("account_group", Text)),
    "departments": (Column("code", String(64)), Column("name", Text)),
    "projects": (Column("code", String(64)), Column("name", Text)),
    "customers": (Column("code", String(64)), Column("name", Text), Column("organization_number", String(32))),
    "suppliers": (Column("code", String(64)), Column("name", Text), Column("organization_number", String(32))),
}
for _name, _columns in _DIMENSIONS.items():
    Table(_name, LEGACY, Column("company", String(120), primary_key=True),
          Column("id", String(64), primary_key=True), *_columns, Column("import_run_id", String(64)))
Table(
    "companies", LEGACY,
    Column("company", String(120), primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("erp_id", String(64), nullable=False),
    Column("name", Text),
    Column("client", Text),
    Column("updated", String(8), nullable=False, server_default="yes"),
)
Table(
    "import_log", LEGACY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("company", String(120), nullable=False, index=True),
    Column("dataset", String(32), nullable=False),
    Column("run_id", String(64)),
    Column("mode", String(16), nullable=False),
    Column("window_start", Date),
    Column("window_end", Date),
    Column("rows_deleted", Integer, nullable=False),
    Column("rows_written", Integer, nullable=False),
    Column("seconds", Numeric(12, 3)),
    Column("finished_at", DateTime(timezone=True), server_default=func.now()),
)


def _engine_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(False)


def build_legacy_warehouse(url: str) -> None:
    """Create the old tables the old way and put two rows in each."""
    engine = create_engine(_engine_url(url))
    postgres = engine.dialect.name == "postgresql"
    t = LEGACY.tables
    with engine.begin() as conn:
        LEGACY.create_all(conn)
        for n in (1, 2):
            conn.execute(insert(t["gl_postings"]).values(
                company="acme.1001", posting_id=f"p{n}", voucher_number="v1", voucher_date=date(2026, 1, n),
                period=202601, account="1920", amount=Decimal(f"{(-1) ** n * 10}.50"), currency="NOK",
                amount_currency=Decimal("10.50"), description=f"line {n}", department="d1", project="pr1",
                customer="c1", supplier="s1", free_dimension_1="f1", free_dimension_2="f2", free_dimension_3="f3",
                source_changed_at=datetime(2026, 1, n, 10, 30) if postgres else f"2026-01-0{n}T10:30:00",
                import_run_id="run-1"))
            for name, columns in _DIMENSIONS.items():
                conn.execute(insert(t[name]).values(company="acme.1001", id=f"{name}-{n}", import_run_id="run-1",
                                                    **{c.name: f"{c.name}-{n}" for c in columns}))
            conn.execute(insert(t["companies"]).values(company=f"acme.100{n}", connection="acme",
                                                       erp_id=f"100{n}", name=f"Company {n}", client="Acme"))
            conn.execute(insert(t["import_log"]).values(
                company="acme.1001", dataset="gl_postings", run_id=f"run-{n}", mode="full",
                rows_deleted=0, rows_written=2, seconds=Decimal("0.125")))
    engine.dispose()


def legacy_rows(url: str) -> dict[str, set[tuple]]:
    """Every row of every old table, in the old columns: what an upgrade must keep."""
    engine = create_engine(_engine_url(url))
    with engine.connect() as conn:
        rows = {name: {tuple(map(str, row)) for row in conn.execute(select(table))}
                for name, table in LEGACY.tables.items()}
    engine.dispose()
    return rows

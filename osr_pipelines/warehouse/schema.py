"""The canonical reporting schema, in SQLAlchemy Core so one definition serves SQLite and PostgreSQL.

Databases get it through the revisions in ``migrations/`` (see ``migrate.py``), never
from ``create_all``: a change here needs a revision there, or the tests fail.
"""

from __future__ import annotations

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
    func,
)

from osr_pipelines.connectors.base import DIMENSION_COLUMNS

metadata = MetaData()

Amount = Numeric(18, 2, asdecimal=True)
# SQLite keeps ISO text as it came; SQLAlchemy's SQLite DateTime parser would drop the 'T' form's time.
Timestamp = DateTime().with_variant(String(32), "sqlite")

gl_postings = Table(
    "gl_postings",
    metadata,
    Column("company", String(120), primary_key=True),
    Column("posting_id", String(64), primary_key=True),
    Column("voucher_number", String(64)),
    Column("voucher_date", Date, nullable=False),
    Column("period", Integer, nullable=False),
    Column("account", String(32), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("currency", String(3)),
    Column("amount_currency", Amount),
    Column("description", Text),
    Column("department", String(64)),
    Column("project", String(64)),
    Column("customer", String(64)),
    Column("supplier", String(64)),
    Column("free_dimension_1", String(64)),
    Column("free_dimension_2", String(64)),
    Column("free_dimension_3", String(64)),
    Column("source_changed_at", Timestamp),
    Column("import_run_id", String(64)),
    Index("ix_gl_postings_company_date", "company", "voucher_date"),
)

_DIMENSION_TYPES = {
    "id": String(64),
    "number": String(32),
    "code": String(64),
    "name": Text,
    "account_type": String(16),
    "account_group": Text,
    "organization_number": String(32),
}

dimension_tables: dict[str, Table] = {
    name: Table(
        name,
        metadata,
        Column("company", String(120), primary_key=True),
        *(Column(col, _DIMENSION_TYPES[col], primary_key=col == "id") for col in columns),
        Column("import_run_id", String(64)),
    )
    for name, columns in DIMENSION_COLUMNS.items()
}

#: Revenue and cost lines per project from an ERP without a ledger; a table of their own, since they are one
#: side of what the accounting system books (their vouchers would never balance as ``gl_postings``).
project_transactions = Table(
    "project_transactions",
    metadata,
    Column("company", String(120), primary_key=True),
    Column("transaction_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("document_number", String(64)),
    Column("transaction_date", Date, nullable=False),
    Column("period", Integer, nullable=False),
    Column("project", String(64)),
    Column("account", String(32), nullable=False),
    Column("department", String(64)),
    Column("customer", String(64)),
    Column("supplier", String(64)),
    Column("amount", Amount, nullable=False),
    Column("description", Text),
    Column("source_changed_at", Timestamp),
    Column("import_run_id", String(64)),
    Index("ix_project_transactions_company_period", "company", "period"),
)

#: Budgets of any ERP, per scenario, account, project, department and month: what a report's budget column reads.
budgets = Table(
    "budgets",
    metadata,
    Column("company", String(120), primary_key=True),
    Column("line_id", String(64), primary_key=True),
    Column("scenario", String(64), nullable=False),
    Column("account", String(32), nullable=False),
    Column("project", String(64)),
    Column("department", String(64)),
    Column("period", Integer, primary_key=True),
    Column("amount", Amount, nullable=False),
    Column("import_run_id", String(64)),
)

companies = Table(
    "companies",
    metadata,
    Column("company", String(120), primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("erp_id", String(64), nullable=False),
    Column("name", Text),
    Column("client", Text),
    Column("updated", String(8), nullable=False, server_default="yes"),
    Column("organization_number", String(32)),
)

import_log = Table(
    "import_log",
    metadata,
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

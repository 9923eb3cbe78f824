"""The schema as releases before migrations created it with ``create_all``, frozen here.

Warehouses created by those releases have these tables and no ``alembic_version``;
``migrate.py`` stamps them with this revision instead of running it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(18, 2, asdecimal=True)
TIMESTAMP = sa.DateTime().with_variant(sa.String(32), "sqlite")


def _dimension(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("company", sa.String(120), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        *columns,
        sa.Column("import_run_id", sa.String(64)),
    )


def upgrade() -> None:
    op.create_table(
        "gl_postings",
        sa.Column("company", sa.String(120), primary_key=True),
        sa.Column("posting_id", sa.String(64), primary_key=True),
        sa.Column("voucher_number", sa.String(64)),
        sa.Column("voucher_date", sa.Date, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("amount_currency", AMOUNT),
        sa.Column("description", sa.Text),
        sa.Column("department", sa.String(64)),
        sa.Column("project", sa.String(64)),
        sa.Column("customer", sa.String(64)),
        sa.Column("supplier", sa.String(64)),
        sa.Column("free_dimension_1", sa.String(64)),
        sa.Column("free_dimension_2", sa.String(64)),
        sa.Column("free_dimension_3", sa.String(64)),
        sa.Column("source_changed_at", TIMESTAMP),
        sa.Column("import_run_id", sa.String(64)),
    )
    op.create_index("ix_gl_postings_company_date", "gl_postings", ["company", "voucher_date"])
    _dimension("accounts", sa.Column("number", sa.String(32)), sa.Column("name", sa.Text),
               sa.Column("account_type", sa.String(16)), sa.Column("account_group", sa.Text))
    for name in ("departments", "projects"):
        _dimension(name, sa.Column("code", sa.String(64)), sa.Column("name", sa.Text))
    for name in ("customers", "suppliers"):
        _dimension(name, sa.Column("code", sa.String(64)), sa.Column("name", sa.Text),
                   sa.Column("organization_number", sa.String(32)))
    op.create_table(
        "companies",
        sa.Column("company", sa.String(120), primary_key=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("erp_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("client", sa.Text),
        sa.Column("updated", sa.String(8), nullable=False, server_default="yes"),
    )
    op.create_table(
        "import_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company", sa.String(120), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("window_start", sa.Date),
        sa.Column("window_end", sa.Date),
        sa.Column("rows_deleted", sa.Integer, nullable=False),
        sa.Column("rows_written", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Numeric(12, 3)),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("ix_import_log_company", "import_log", ["company"])


def downgrade() -> None:
    for name in ("import_log", "companies", "suppliers", "customers", "projects", "departments", "accounts",
                 "gl_postings"):
        op.drop_table(name)

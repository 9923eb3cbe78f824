"""``project_transactions`` (an ERP without a ledger: invoice and supplier invoice lines per project) and
``budgets`` (any ERP's budget per scenario, account, project, department and month).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_AMOUNT = sa.Numeric(18, 2, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "project_transactions",
        sa.Column("company", sa.String(120), primary_key=True),
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("document_number", sa.String(64)),
        sa.Column("transaction_date", sa.Date, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("project", sa.String(64)),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64)),
        sa.Column("customer", sa.String(64)),
        sa.Column("supplier", sa.String(64)),
        sa.Column("amount", _AMOUNT, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("source_changed_at", sa.DateTime().with_variant(sa.String(32), "sqlite")),
        sa.Column("import_run_id", sa.String(64)),
    )
    op.create_index("ix_project_transactions_company_period", "project_transactions", ["company", "period"])
    op.create_table(
        "budgets",
        sa.Column("company", sa.String(120), primary_key=True),
        sa.Column("line_id", sa.String(64), primary_key=True),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("project", sa.String(64)),
        sa.Column("department", sa.String(64)),
        sa.Column("period", sa.Integer, primary_key=True),
        sa.Column("amount", _AMOUNT, nullable=False),
        sa.Column("import_run_id", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("budgets")
    op.drop_index("ix_project_transactions_company_period", "project_transactions")
    op.drop_table("project_transactions")

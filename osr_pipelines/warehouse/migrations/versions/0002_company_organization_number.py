"""``companies.organization_number``: the ERP reports it with every company; keep it for reports.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("companies", sa.Column("organization_number", sa.String(32)))


def downgrade() -> None:
    # SQLite before 3.35 cannot drop a column; batch mode copies the table there.
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("organization_number")

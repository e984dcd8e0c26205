"""outbox faults

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:45:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tries that failed in warroom's own code (a bug, a row it cannot encode), counted
    # apart from the far side's refusals so that only these are bounded.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("faults", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("faults")

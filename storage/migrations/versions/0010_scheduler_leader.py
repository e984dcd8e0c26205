"""scheduler leader epoch

One row: the fencing token of the scheduler's leadership. Each replica that takes the
leader lock increments `epoch`; a job commits its effects only in a transaction that
finds the epoch its process was elected with (bot/scheduling/fence.py), so a replica whose
lock the database cut never fires a job the new leader fires too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 12:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "scheduler_leader",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("elected_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(table, [{"id": 1, "epoch": 0, "holder": None, "elected_at": None}])


def downgrade() -> None:
    op.drop_table("scheduler_leader")

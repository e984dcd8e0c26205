"""scheduler job store

APScheduler's job table (SQLAlchemyJobStore, APScheduler 3.x), created by the release step
like every other table: replicas then never race to create it at start, and the service
needs no CREATE privilege at run time. A database where an earlier version let APScheduler
create it keeps its table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 03:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "apscheduler_jobs"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    # The columns SQLAlchemyJobStore defines (APScheduler 3.x).
    op.create_table(
        TABLE,
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index(f"ix_{TABLE}_next_run_time", TABLE, ["next_run_time"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_next_run_time", table_name=TABLE)
    op.drop_table(TABLE)

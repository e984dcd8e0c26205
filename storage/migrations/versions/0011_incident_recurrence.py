"""incident recurrence

`recurrence_of`: the resolved incident of the same alert group that a new incident follows
(opened when the group fired again past the playbook's `refire_window`). The index on
`grouping_key` serves the lookup of a group's last resolved incident.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recurrence_of", sa.Integer(), nullable=True))
    op.create_index("ix_incidents_grouping_key", "incidents", ["grouping_key"])


def downgrade() -> None:
    op.drop_index("ix_incidents_grouping_key", table_name="incidents")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("recurrence_of")

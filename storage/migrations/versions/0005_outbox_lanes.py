"""outbox lanes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 22:22:12.440349
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import storage.types


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "lane", sqlmodel.sql.sqltypes.AutoString(), server_default="main", nullable=False
            )
        )
        batch_op.create_index("ix_outbox_lane", ["incident_id", "lane", "state"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_lane")
        batch_op.drop_column("lane")

"""incident external refs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:08:38.614782
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import storage.types
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "external", storage.types.JSONType, nullable=False, server_default=sa.text("'{}'")
            )
        )


def downgrade() -> None:

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("external")

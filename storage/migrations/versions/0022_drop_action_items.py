"""drop action_items

`action_items` was superseded by `followups` in 0018, which copied its rows and left it
in place for a downgrade; nothing has read or written it since. Dropped here; a downgrade
makes it again from the follow-ups, so 0018's own downgrade still finds every item.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:00:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_action_items_incident_id", table_name="action_items")
    op.drop_table("action_items")


def downgrade() -> None:
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_items_incident_id", "action_items", ["incident_id"])
    op.execute(
        "INSERT INTO action_items (incident_id, text, owner, due, status, created_by, "
        "created_at) SELECT incident_id, text, owner, due, status, created_by, created_at "
        "FROM followups ORDER BY incident_id, number"
    )

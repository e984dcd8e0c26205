"""catch-ups sent

`catchups_sent`: who was sent an incident's catch-up on joining its channel late, so each
person gets it once per incident, however often they leave and join again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:00:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catchups_sent",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("user_id", sa.String(), primary_key=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catchups_sent")

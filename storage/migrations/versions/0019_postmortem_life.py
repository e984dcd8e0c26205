"""postmortem life

`postmortems`: one per resolved incident, with owner, due date, status (draft, in_review,
published) and where the published version went. Incidents resolved before this revision
get theirs when first needed (the due date follows the playbook, which only the bot reads).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 06:40:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(), nullable=True),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("permalink", sa.String(), nullable=True),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_index("ix_postmortems_resolved_at", "postmortems", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_postmortems_resolved_at", table_name="postmortems")
    op.drop_table("postmortems")

"""follow-ups

`followups`: what the team commits to after an incident, numbered within it, with owner,
due date, status (open, done, dropped) and the tracker ticket it became. The rows of
`action_items`, which it supersedes, are copied in, numbered in the order they were added.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:30:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("drop_reason", sa.String(), nullable=True),
        sa.Column("tracker", sa.String(), nullable=True),
        sa.Column("ticket_key", sa.String(), nullable=True),
        sa.Column("ticket_url", sa.String(), nullable=True),
        sa.UniqueConstraint("incident_id", "number", name="uq_followups_number"),
    )
    op.create_index("ix_followups_incident_id", "followups", ["incident_id"])
    op.create_index("ix_followups_ticket", "followups", ["tracker", "ticket_key"])
    # Window functions: SQLite 3.25+ and PostgreSQL both have them.
    op.execute(
        "INSERT INTO followups (incident_id, number, text, owner, due, status, created_by, "
        "created_at) SELECT incident_id, ROW_NUMBER() OVER (PARTITION BY incident_id "
        "ORDER BY created_at, id), text, owner, due, status, created_by, created_at "
        "FROM action_items"
    )


def downgrade() -> None:
    op.drop_index("ix_followups_ticket", table_name="followups")
    op.drop_index("ix_followups_incident_id", table_name="followups")
    op.drop_table("followups")

"""postmortem edits

`postmortem_drafts`: per incident, the postmortem as warroom last generated it and as the
team edited it (by whom, when, through the API or a Slack file), so a regeneration keeps the
sections the team wrote. The drafts stored on `incidents.postmortem` so far are copied in as
the last generated text.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 06:40:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postmortem_drafts",
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("generated", sa.String(), nullable=False),
        sa.Column("edited", sa.String(), nullable=True),
        sa.Column("edited_by", sa.String(), nullable=True),
        sa.Column("edited_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("edited_via", sa.String(), nullable=True),
    )
    op.execute(
        "INSERT INTO postmortem_drafts (incident_id, generated) "
        "SELECT id, postmortem FROM incidents WHERE postmortem IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("postmortem_drafts")

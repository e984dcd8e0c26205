"""paged incidents

A paging tool's incident id (PagerDuty's) and the warroom incident it belongs to: the
tool's later webhooks (a note names only the tool's incident) find warroom's incident
through it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:15:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import storage.types


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paged_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_paged_incidents"),
    )
    with op.batch_alter_table("paged_incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_paged_incidents_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("paged_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paged_incidents_incident_id"))
    op.drop_table("paged_incidents")

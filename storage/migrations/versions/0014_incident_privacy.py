"""incident privacy and public titles; maintenance status-page refs

`incidents.private`: the incident's title, channel and text stay off every public surface
(broadcast channel, status page, webhooks not marked private-ok). `incidents.public_title`:
what public surfaces call it. `maintenances.external`: the status page's id for a window.
Rows stored before are public incidents with no public title of their own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 03:00:00
"""

from alembic import op
import sqlalchemy as sa
import storage.types


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite's batch mode would rebuild `incidents`, which the tables
    # referencing it forbid while foreign keys are on.
    op.add_column(
        "incidents",
        sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.add_column("incidents", sa.Column("public_title", sa.String(), nullable=True))
    op.add_column(
        "maintenances",
        sa.Column(
            "external", storage.types.JSONType, nullable=False, server_default=sa.text("'{}'")
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("maintenances") as batch:
        batch.drop_column("external")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("public_title")
        batch.drop_column("private")

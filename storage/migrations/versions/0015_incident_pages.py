"""incident pages

`incidents.pages`: how many alerts warroom has triggered in the paging tool for the
incident (each under its own dedup key: `warroom-<id>`, then `warroom-<id>-2`, ...), and
`incidents.page_open`: whether the last of them is still open there (not resolved). A
page requested while the last one is acknowledged goes out under a new key, since the
tool merges a trigger into the alert its key names. Incidents stored before were paged
once, at opening, when they were sev1 or sev2 and no drill: they are given that page.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default serves the rows there): a batch would copy the
    # table, which SQLite refuses while other tables reference its rows.
    op.add_column("incidents", sa.Column("pages", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "incidents",
        sa.Column("page_open", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    incidents = sa.table(
        "incidents",
        sa.column("severity", sa.String()),
        sa.column("status", sa.String()),
        sa.column("drill", sa.Boolean()),
        sa.column("pages", sa.Integer()),
        sa.column("page_open", sa.Boolean()),
    )
    paged = incidents.c.severity.in_(("sev1", "sev2")) & (incidents.c.drill == sa.false())
    op.execute(
        incidents.update().where(paged).values(pages=1, page_open=incidents.c.status != "resolved")
    )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("page_open")
        batch.drop_column("pages")

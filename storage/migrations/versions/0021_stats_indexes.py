"""stats indexes

What `warroom stats` reads of every incident, in indexes, so its passes skip the table: an
incident row is about 4 KiB (its playbook snapshot), and `drill`, stored after the snapshot,
made each pass read every row. `ix_incidents_counted` holds (drill, id, severity): the count,
the follow-ups, the percentiles' and the update cadence's joins. `ix_incidents_resolved`
holds (drill, resolved_at, status): the postmortem figures of a window's resolved incidents.
`ix_incidents_cadence` holds (drill, severity, the update cadence the snapshot writes): the
few distinct cadences are found by seeks, not by reading every snapshot; its expression is
spelled as `storage.types.written_cadence` compiles it (each database matches the shape).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 21:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# name -> (table, columns); the same as storage/models.py declares.
INDEXES = {
    "ix_incidents_counted": ("incidents", ["drill", "id", "severity"]),
    "ix_incidents_resolved": ("incidents", ["drill", "resolved_at", "status"]),
}
WRITTEN_CADENCE = {
    "sqlite": "CAST(json_extract(playbook_snapshot, '$.reminders.status_update') AS TEXT)",
    "postgresql": "(playbook_snapshot -> 'reminders' ->> 'status_update')",
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)
    written = WRITTEN_CADENCE[op.get_bind().dialect.name]
    op.create_index(
        "ix_incidents_cadence", "incidents", ["drill", "severity", sa.text(written)], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_cadence", table_name="incidents")
    for name, (table, _) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)

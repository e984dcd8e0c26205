"""ix_timeline_kind without the alerts' entries

A storm writes an alert's entry per alert, and each one also went into
`ix_timeline_kind` (kind, incident_id, occurred_at), at the end of its incident's run of
alert entries: on SQLite a page written to the WAL per incident a batch touches (33 -> 24
pages for a storm's batch of 14 over 20 incidents, 10% of the writer's time). No read by
kind asks for the alerts' entries (an incident's alerts are read from `alerts`, its
timeline by `ix_timeline_incident_occurred`), so the index leaves them out. A read by kind
says `kind <> 'alert'` itself (`storage.timeline_kinds.of_kind`): neither database proves it from
`kind = ?`.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 00:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_COLUMNS = ["kind", "incident_id", "occurred_at"]
_NOT_ALERT = sa.text("kind <> 'alert'")


def upgrade() -> None:
    op.drop_index("ix_timeline_kind", table_name="timeline_events")
    op.create_index(
        "ix_timeline_kind",
        "timeline_events",
        _COLUMNS,
        sqlite_where=_NOT_ALERT,
        postgresql_where=_NOT_ALERT,
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_kind", table_name="timeline_events")
    op.create_index("ix_timeline_kind", "timeline_events", _COLUMNS)

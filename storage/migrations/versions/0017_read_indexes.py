"""read indexes

An index for every order and filter the reads use, so a page costs the same at any
history: the incident list's order (opened, id), alone and under its status, severity and
playbook filters; timeline entries by kind (the stats' first update per incident); and
milestones by name (the stats' time to each milestone). The timeline's own order
(incident, time, id) has had its index since 0001.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# name -> (table, columns); the same as storage/models.py declares.
INDEXES = {
    "ix_incidents_opened": ("incidents", ["created_at", "id"]),
    "ix_incidents_status_opened": ("incidents", ["status", "created_at", "id"]),
    "ix_incidents_severity_opened": ("incidents", ["severity", "created_at", "id"]),
    "ix_incidents_playbook_opened": ("incidents", ["playbook_id", "created_at", "id"]),
    "ix_timeline_kind": ("timeline_events", ["kind", "incident_id", "occurred_at"]),
    "ix_milestones_name": ("milestones", ["name", "incident_id", "at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)

"""drop ix_alerts_incident_id

`uq_alerts_identity` (incident_id, source, fingerprint) leads with the incident, so it finds
an incident's alerts as well as `ix_alerts_incident_id` did; the second index only cost
every stored alert one more B-tree insert (on SQLite, pages written to the WAL at commit:
40 -> 37 for a batch of ten storm alerts in ten incidents). The reads that
ordered an incident's alerts by id now sort them (already the faster plan at 1,500 alerts).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 07:00:00
"""

from alembic import op


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_alerts_incident_id", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"], unique=False)

"""alert names

`alerts.name`: what the sender calls the alert (Alertmanager's and Grafana's `alertname`
label, PagerDuty's incident title, the generic title), so the incident API can list the
distinct alerts of an incident. Rows stored before are given their `alertname` label,
else their title: what the ingest stores for them from now on.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("name", sa.String(), nullable=True))
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.Integer()),
        sa.column("title", sa.String()),
        sa.column("labels", sa.JSON()),
        sa.column("name", sa.String()),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(alerts.c.id, alerts.c.title, alerts.c.labels)
            .where(alerts.c.id > last)
            .order_by(alerts.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            alerts.update()
            .where(alerts.c.id == sa.bindparam("p_id"))
            .values(name=sa.bindparam("p_name")),
            [{"p_id": id_, "p_name": _name(title, labels)} for id_, title, labels in rows],
        )
        last = rows[-1][0]


def _name(title: str, labels: object) -> str:
    if isinstance(labels, dict):
        alertname = labels.get("alertname")
        if isinstance(alertname, str) and alertname.strip():
            return alertname.strip()
    return title


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("name")

"""Use case: the read queries every adapter shares (App Home, API, CLI)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.snapshot import IncidentSnapshot, snapshots
from storage.models import Incident


def open_incidents(session: Session) -> list[IncidentSnapshot]:
    """Every open incident, newest first, in a fixed number of queries."""
    rows = session.scalars(
        select(Incident).where(col(Incident.status) != "resolved").order_by(col(Incident.id).desc())
    )
    return snapshots(session, list(rows))

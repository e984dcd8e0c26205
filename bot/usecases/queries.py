"""Use case: the read queries every adapter shares (App Home, HTTP API, CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.snapshot import IncidentSnapshot, snapshot, snapshots
from bot.incidents.views import timeline
from storage.models import OPEN_STATUSES, ActionItem, Alert, Incident, TimelineEvent


@dataclass(frozen=True)
class IncidentRecord:
    """One incident as the API shows it: its snapshot, its alerts and action items."""

    incident: IncidentSnapshot
    alerts: list[Alert]
    action_items: list[ActionItem]


def open_incidents(session: Session) -> list[IncidentSnapshot]:
    """Every open incident, newest first, in a fixed number of queries."""
    rows = session.scalars(
        select(Incident).where(col(Incident.status) != "resolved").order_by(col(Incident.id).desc())
    )
    return snapshots(session, list(rows))


def incidents(session: Session, status: str | None, limit: int) -> list[IncidentSnapshot]:
    """Incidents newest first; `status` "open" (not resolved), one status, or None (all)."""
    query = select(Incident).order_by(col(Incident.created_at).desc(), col(Incident.id).desc())
    if status == "open":
        query = query.where(col(Incident.status).in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(col(Incident.status) == status)
    return snapshots(session, list(session.scalars(query.limit(limit))))


def incident_record(session: Session, incident_id: int) -> IncidentRecord | None:
    """Everything known about one incident; None if there is no such incident."""
    found = snapshot(session, incident_id)
    if found is None:
        return None
    alerts = session.scalars(
        select(Alert).where(col(Alert.incident_id) == incident_id).order_by(col(Alert.id))
    )
    items = session.scalars(
        select(ActionItem)
        .where(col(ActionItem.incident_id) == incident_id)
        .order_by(col(ActionItem.id))
    )
    return IncidentRecord(found, list(alerts), list(items))


def incident_events(session: Session, incident_id: int) -> list[TimelineEvent] | None:
    """An incident's timeline in the order things happened; None if there is no such
    incident."""
    if session.get(Incident, incident_id) is None:
        return None
    return timeline(session, incident_id)

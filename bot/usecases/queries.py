"""Use case: the read queries every adapter shares (App Home, HTTP API, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlmodel import Session, col

from bot.incidents.snapshot import IncidentSnapshot, snapshot, snapshots
from bot.incidents.views import timeline
from storage.models import OPEN_STATUSES, Alert, Followup, Incident, TimelineEvent


@dataclass(frozen=True)
class IncidentRecord:
    """One incident as the API shows it: its snapshot, its alerts and action items."""

    incident: IncidentSnapshot
    alerts: list[Alert]
    action_items: list[Followup]


def open_incidents(session: Session) -> list[IncidentSnapshot]:
    """Every open incident, newest first, in a fixed number of queries."""
    rows = session.scalars(
        select(Incident).where(col(Incident.status) != "resolved").order_by(col(Incident.id).desc())
    )
    return snapshots(session, list(rows))


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a list shows; None: any. `status` "open" means not resolved; `since`
    (inclusive) and `until` (exclusive) bound when the incident was opened."""

    status: str | None = None
    severity: str | None = None
    playbook: str | None = None
    drill: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last incident shown, by the list's order (opened, id)."""

    opened_at: datetime
    id: int


@dataclass(frozen=True)
class IncidentPage:
    """One page of a list, and where the next one starts (None: this was the last)."""

    incidents: list[IncidentSnapshot]
    next: Position | None


def incidents(
    session: Session, where: IncidentFilter, *, limit: int, after: Position | None = None
) -> IncidentPage:
    """Incidents newest first (by when they were opened, then id), `limit` at most, those
    after `after`. Paging by position, not by offset: incidents opened meanwhile sort
    before every page already read, so paging on neither repeats nor skips one."""
    opened, number = col(Incident.created_at), col(Incident.id)
    query = select(Incident).order_by(opened.desc(), number.desc())
    if where.status == "open":
        query = query.where(col(Incident.status).in_(OPEN_STATUSES))
    elif where.status is not None:
        query = query.where(col(Incident.status) == where.status)
    if where.severity is not None:
        query = query.where(col(Incident.severity) == where.severity)
    if where.playbook is not None:
        query = query.where(col(Incident.playbook_id) == where.playbook)
    if where.drill is not None:
        query = query.where(col(Incident.drill).is_(where.drill))
    if where.since is not None:
        query = query.where(opened >= where.since)
    if where.until is not None:
        query = query.where(opened < where.until)
    if after is not None:
        query = query.where(
            or_(opened < after.opened_at, and_(opened == after.opened_at, number < after.id))
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    shown = rows[:limit]
    last = shown[-1] if len(rows) > limit else None
    following = Position(last.created_at, last.id) if last is not None and last.id else None
    return IncidentPage(snapshots(session, shown), following)


def incident_record(session: Session, incident_id: int) -> IncidentRecord | None:
    """Everything known about one incident; None if there is no such incident."""
    found = snapshot(session, incident_id)
    if found is None:
        return None
    alerts = session.scalars(
        select(Alert).where(col(Alert.incident_id) == incident_id).order_by(col(Alert.id))
    )
    items = session.scalars(
        select(Followup)
        .where(col(Followup.incident_id) == incident_id)
        .order_by(col(Followup.number))
    )
    return IncidentRecord(found, list(alerts), list(items))


def incident_events(session: Session, incident_id: int) -> list[TimelineEvent] | None:
    """An incident's timeline in the order things happened; None if there is no such
    incident."""
    if session.get(Incident, incident_id) is None:
        return None
    return timeline(session, incident_id)

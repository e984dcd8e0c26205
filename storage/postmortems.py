"""Postmortem records: one per resolved incident, found by incident, read for the stats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from storage.models import Incident, Postmortem
from storage.stats_queries import epoch_us


def postmortem_of(*, session: Session, incident_id: int) -> Postmortem | None:
    """The incident's postmortem record, if it has one."""
    return session.scalar(select(Postmortem).where(col(Postmortem.incident_id) == incident_id))


def add_postmortem(
    *,
    session: Session,
    incident_id: int,
    owner: str | None,
    due: date,
    resolved_at: datetime,
    now: datetime,
) -> Postmortem:
    """Store a new draft postmortem record; a second one for the incident fails at flush."""
    row = Postmortem(
        incident_id=incident_id, owner=owner, due=due, resolved_at=resolved_at, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def set_published_where(
    *, session: Session, incident_id: int, path: str | None, permalink: str | None
) -> None:
    """Keep where the last published version went (the file, the channel message)."""
    row = postmortem_of(session=session, incident_id=incident_id)
    if row is not None:
        row.path = path
        row.permalink = permalink


# Rows are grouped by quarter hour since the epoch: every time zone's offset, and every
# change of it, falls on a quarter hour, so each slot lies in one local day of any zone and
# the caller puts it in its week there; at most one row per slot whatever the count.
SLOT_US = 15 * 60 * 1_000_000


def _slot(column: Any) -> Any:
    # Integer division: SQLAlchemy's `/` is true division, a fraction of a slot per incident.
    return epoch_us(column) // SLOT_US


def weekly_counts(
    *, session: Session, since: datetime, until: datetime, due_by: date
) -> list[tuple[int, int, int, int]]:
    """Per quarter hour of resolve (`SLOT_US`, counted from the epoch) of the incidents
    (drills left out) resolved in [since, until): (slot, resolved, postmortems due by
    `due_by`, published), aggregated in the database."""
    week = _slot(col(Incident.resolved_at)).label("slot")
    published = case((col(Postmortem.status) == "published", 1), else_=0)
    due = case((col(Postmortem.due) <= due_by, 1), else_=0)
    query = (
        select(week, func.count(), func.sum(due), func.sum(published))
        .select_from(Incident)
        .join(Postmortem, col(Postmortem.incident_id) == col(Incident.id), isouter=True)
        .where(
            col(Incident.resolved_at) >= since,
            col(Incident.resolved_at) < until,
            col(Incident.status) == "resolved",
            col(Incident.drill).is_(False),
        )
        .group_by(week)
        .order_by(week)
    )
    return [(int(w), int(n), int(d or 0), int(p or 0)) for w, n, d, p in session.execute(query)]


def publish_delays(*, session: Session, since: datetime, until: datetime) -> list[tuple[int, int]]:
    """(quarter hour of resolve, microseconds from resolve to publish) of each published
    postmortem of an incident resolved in [since, until): two integers a row, in SQL."""
    week = _slot(col(Incident.resolved_at))
    delay = epoch_us(col(Postmortem.published_at)) - epoch_us(col(Incident.resolved_at))
    query = (
        select(week, delay)
        .select_from(Incident)
        .join(Postmortem, col(Postmortem.incident_id) == col(Incident.id))
        .where(
            col(Incident.resolved_at) >= since,
            col(Incident.resolved_at) < until,
            col(Incident.status) == "resolved",
            col(Incident.drill).is_(False),
            col(Postmortem.status) == "published",
        )
    )
    return [(int(w), int(d)) for w, d in session.execute(query)]

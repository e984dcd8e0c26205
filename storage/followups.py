"""Follow-ups: stored, numbered within their incident, found by number or by ticket."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import Followup, Incident


def add_followup(
    *,
    session: Session,
    incident_id: int,
    text: str,
    owner: str | None,
    due: date | None,
    created_by: str | None,
    now: datetime,
) -> Followup:
    """Store a new open follow-up under the incident's next number.

    Transactions numbering follow-ups of one incident take turns on its row's lock
    (PostgreSQL; SQLite's writers already take turns), so each reads the number the one
    before it wrote; the unique (incident, number) constraint stays as the last guard.
    """
    session.flush()  # an earlier follow-up of this transaction counts
    session.execute(
        select(col(Incident.id)).where(col(Incident.id) == incident_id).with_for_update()
    )
    last = session.scalar(
        select(func.max(col(Followup.number))).where(col(Followup.incident_id) == incident_id)
    )
    row = Followup(
        incident_id=incident_id,
        number=(last or 0) + 1,
        text=text,
        owner=owner,
        due=due,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def followup(*, session: Session, incident_id: int, number: int) -> Followup | None:
    """An incident's follow-up by its number."""
    return session.scalar(
        select(Followup).where(
            col(Followup.incident_id) == incident_id, col(Followup.number) == number
        )
    )


def followups(*, session: Session, incident_id: int) -> list[Followup]:
    """An incident's follow-ups in number order."""
    return list(
        session.scalars(
            select(Followup)
            .where(col(Followup.incident_id) == incident_id)
            .order_by(col(Followup.number))
        )
    )


def by_ticket(*, session: Session, tracker: str, key: str) -> Followup | None:
    """The follow-up a tracker's ticket was filed for, if any."""
    return session.scalar(
        select(Followup)
        .where(col(Followup.tracker) == tracker, col(Followup.ticket_key) == key)
        .order_by(col(Followup.id))
        .limit(1)
    )


def set_status(
    row: Followup, status: str, *, by: str | None, now: datetime, reason: str | None = None
) -> None:
    """Move a follow-up to open, done or dropped, keeping when and by whom it was closed."""
    row.status = status
    if status == "open":
        row.closed_at = row.closed_by = row.drop_reason = None
    else:
        row.closed_at, row.closed_by = now, by
        row.drop_reason = reason if status == "dropped" else None


def set_ticket(
    *, session: Session, incident_id: int, number: int, tracker: str, key: str, url: str
) -> Followup | None:
    """Keep the ticket a tracker filed for a follow-up; None if the follow-up is gone."""
    row = followup(session=session, incident_id=incident_id, number=number)
    if row is not None:
        row.tracker, row.ticket_key, row.ticket_url = tracker, key, url
    return row

"""The SQL behind the follow-up figures of `warroom stats`: per severity, counted and
ranked in the database (drills left out), so that only a row per severity comes back.
What the figures mean is decided by the caller, `bot.incidents.followup_stats`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, Select, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from storage.models import Followup, Incident


def followup_counts(*, session: Session, today: date) -> list[tuple[str, int, int, int]]:
    """Per severity: (severity, follow-ups recorded, done, open past their due date by
    `today`)."""
    severity = col(Incident.severity)
    status = col(Followup.status)
    real = (col(Followup.incident_id) == col(Incident.id)) & col(Incident.drill).is_(False)
    counts = session.execute(
        select(
            severity,
            func.count(),
            func.sum(case((status == "done", 1), else_=0)),
            func.sum(case(((status == "open") & (col(Followup.due) < today), 1), else_=0)),
        )
        .select_from(Followup)
        .join(Incident, real)
        .group_by(severity)
    ).all()
    return [(name, int(n or 0), int(d or 0), int(o or 0)) for name, n, d, o in counts]


def median_seconds_to_close(*, session: Session) -> dict[str, float]:
    """Per severity, the median seconds from recording a follow-up to marking it done."""
    return {name: float(seconds) for name, seconds in session.execute(_medians(session))}


def _seconds(session: Session) -> ColumnElement[float]:
    """Seconds from a follow-up's recording to its closing, in this database's terms."""
    closed, created = col(Followup.closed_at), col(Followup.created_at)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", closed - created), Float)
    return (func.julianday(closed) - func.julianday(created)) * 86400.0


def _medians(session: Session) -> Select[tuple[str, float]]:
    """Per severity, the median seconds to close: the middle one of the ordered times, or
    the mean of the middle two, picked by rank in the database."""
    closed = (
        select(col(Incident.severity).label("severity"), _seconds(session).label("seconds"))
        .select_from(Followup)
        .join(
            Incident,
            (col(Followup.incident_id) == col(Incident.id)) & col(Incident.drill).is_(False),
        )
        .where(col(Followup.status) == "done", col(Followup.closed_at).is_not(None))
        .subquery("closed")
    )
    ranked = select(
        closed.c.severity,
        closed.c.seconds,
        func.row_number()
        .over(partition_by=closed.c.severity, order_by=closed.c.seconds)
        .label("n"),
        func.count().over(partition_by=closed.c.severity).label("c"),
    ).subquery("ranked")
    # Integer division in both databases: ranks (c+1)/2 and (c+2)/2 are the middle one
    # twice for an odd count, the middle two for an even one.
    middle = ranked.c.n.in_([(ranked.c.c + 1) // 2, (ranked.c.c + 2) // 2])
    return (
        select(ranked.c.severity, func.avg(ranked.c.seconds))
        .where(middle)
        .group_by(ranked.c.severity)
    )

"""Across incidents, per severity: follow-ups opened, done, overdue, and how long they take.

Counted in the database with aggregates (no row is loaded as an object), drills left out:
opened is every follow-up recorded; done, those marked done; overdue, those still open
past their due date as of today (in the display time zone); the median time to close is
from recording to done, over the done ones (dropped ones never closed anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Float, Select, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from bot.incidents.commands import SEVERITIES
from storage.models import Followup, Incident


@dataclass(frozen=True)
class SeverityFollowups:
    """One severity's follow-ups."""

    severity: str
    opened: int
    done: int
    overdue: int
    median_to_close: timedelta | None  # None: none done yet


@dataclass(frozen=True)
class FollowupStats:
    """Follow-up figures per severity, sev1 first, every severity listed; as of `today`."""

    today: date
    severities: tuple[SeverityFollowups, ...]

    def of(self, severity: str) -> SeverityFollowups:
        """One severity's figures."""
        return next(row for row in self.severities if row.severity == severity)


def _seconds(session: Session) -> ColumnElement[float]:
    """Seconds from a follow-up's recording to its closing, in this database's terms."""
    closed, created = col(Followup.closed_at), col(Followup.created_at)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", closed - created), Float)
    return (func.julianday(closed) - func.julianday(created)) * 86400.0


def followup_stats(session: Session, *, today: date) -> FollowupStats:
    """Count every severity's follow-ups, and the median time to close the done ones."""
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
    medians = {name: seconds for name, seconds in session.execute(_medians(session))}
    found = {row[0]: row for row in counts}
    rows = []
    for name in SEVERITIES:
        _, opened, done, overdue = found.get(name, (name, 0, 0, 0))
        median = medians.get(name)
        rows.append(
            SeverityFollowups(
                severity=name,
                opened=int(opened or 0),
                done=int(done or 0),
                overdue=int(overdue or 0),
                median_to_close=timedelta(seconds=round(median)) if median is not None else None,
            )
        )
    return FollowupStats(today=today, severities=tuple(rows))


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

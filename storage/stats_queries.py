"""The SQL behind `warroom stats`: counts, rank reads and interval counts over incidents,
computed in the database so that nothing read grows with the number of incidents.

No statement here lists incident ids (PostgreSQL takes at most 65,535 parameters): every
figure is a join or an aggregate over the tables themselves. What the figures mean (which
moments a measure runs between, how a percentile is interpolated, what cadence an incident
keeps) is decided by the caller, `bot.incidents.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from storage.models import Incident, Milestone, TimelineEvent
from storage.types import UTCDateTime


class epoch_us(FunctionElement[int]):
    """Microseconds since 1970 of a stored UTC time, exact, on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds from strftime, the
    # six digits after the point as they are (julianday's float would round them).
    (moment,) = element.clauses
    text = compiler.process(moment, **kw)
    return (
        f"(CAST(strftime('%s', {text}) AS INTEGER) * 1000000"
        f" + CAST(substr({text}, 21, 6) AS INTEGER))"
    )


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: Any, **kw: Any) -> str:
    (moment,) = element.clauses
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(moment, **kw)}) * 1000000 AS BIGINT)"


@dataclass(frozen=True)
class Moment:
    """A time each incident may have: a milestone by name, or the first timeline entry of
    a kind."""

    milestone: str | None = None
    first_event: str | None = None

    def table(self) -> FromClause:
        """(incident_id, at) for every incident that has this moment."""
        if self.milestone is not None:
            row = aliased(Milestone)
            return (
                select(col(row.incident_id).label("incident_id"), col(row.at).label("at"))
                .where(col(row.name) == self.milestone)
                .subquery()
            )
        event = aliased(TimelineEvent)
        return (
            select(
                col(event.incident_id).label("incident_id"),
                func.min(col(event.occurred_at), type_=UTCDateTime).label("at"),
            )
            .where(col(event.kind) == self.first_event)
            .group_by(col(event.incident_id))
            .subquery()
        )


def counted() -> ColumnElement[bool]:
    """Which incidents the figures count: drills are exercises, not incidents."""
    return col(Incident.drill).is_(False)


def _pairs(start: Moment, end: Moment) -> tuple[FromClause, FromClause, Any]:
    first, then = start.table(), end.table()
    joined = (
        select(col(Incident.id))
        .join(first, first.c.incident_id == col(Incident.id))
        .join(then, then.c.incident_id == col(Incident.id))
        .where(counted())
    )
    return first, then, joined


def gap_count(session: Session, start: Moment, end: Moment) -> int:
    """How many counted incidents have both moments."""
    _, _, joined = _pairs(start, end)
    return session.scalar(select(func.count()).select_from(joined.subquery())) or 0


def gaps_at_ranks(
    session: Session, start: Moment, end: Moment, ranks: Sequence[int]
) -> dict[int, tuple[datetime, datetime]]:
    """The (start, end) pairs at the given 0-based ranks when the counted incidents having
    both moments are ordered by end minus start (then by incident number)."""
    if not ranks:
        return {}
    first, then, _ = _pairs(start, end)
    gap = epoch_us(then.c.at) - epoch_us(first.c.at)
    ordered = (
        select(
            first.c.at.label("start"),
            then.c.at.label("end"),
            (func.row_number().over(order_by=(gap, col(Incident.id))) - 1).label("rank"),
        )
        .join_from(Incident, first, first.c.incident_id == Incident.id)
        .join(then, then.c.incident_id == Incident.id)
        .where(counted())
        .subquery()
    )
    rows = session.execute(
        select(ordered.c.rank, ordered.c.start, ordered.c.end).where(
            ordered.c.rank.in_(sorted(set(ranks)))
        )
    )
    return {rank: (began, ended) for rank, began, ended in rows}


def _configured_cadence() -> ColumnElement[str]:
    # The snapshot keeps the playbook as its YAML has it, durations as text ("20m").
    return Incident.playbook_snapshot["reminders"]["status_update"].as_string()


def cadence_groups(session: Session) -> dict[tuple[str, str | None], int]:
    """Counted incidents by (severity, the playbook's status update cadence as written)."""
    configured = _configured_cadence()
    rows = session.execute(
        select(col(Incident.severity), configured, func.count())
        .where(counted())
        .group_by(col(Incident.severity), configured)
    )
    return {(severity, written): count for severity, written, count in rows}


def intervals_on_cadence(
    session: Session,
    *,
    cadence_us: Mapping[tuple[str, str | None], int],
    opening: str,
    update: str,
    closing: str,
) -> tuple[int, int]:
    """(kept, intervals) over counted incidents with milestone `opening` whose group has a
    cadence: the intervals between `opening`, each `update` entry in time order and
    `closing` (if reached), in that order, and how many of them are at most the cadence."""
    if not cadence_us:
        return 0, 0
    configured = _configured_cadence()
    cadence = case(
        *(
            (
                and_(
                    col(Incident.severity) == severity,
                    configured.is_(None) if written is None else configured == written,
                ),
                literal(micros, BigInteger),
            )
            for (severity, written), micros in cadence_us.items()
        ),
        else_=None,
    )
    incidents = (
        select(col(Incident.id).label("id"), cadence.label("cadence"))
        .where(counted())
        .where(cadence.is_not(None))
        .subquery()
    )
    opened = Moment(milestone=opening).table()
    milestone = aliased(Milestone)
    event = aliased(TimelineEvent)
    moments = union_all(
        select(
            col(milestone.incident_id).label("incident_id"),
            col(milestone.at).label("at"),
            case((col(milestone.name) == opening, 0), else_=2).label("part"),
        ).where(col(milestone.name).in_((opening, closing))),
        select(
            col(event.incident_id).label("incident_id"),
            col(event.occurred_at).label("at"),
            literal(1, Integer).label("part"),
        ).where(col(event.kind) == update),
    ).subquery()
    previous = func.lag(epoch_us(moments.c.at)).over(
        partition_by=moments.c.incident_id, order_by=(moments.c.part, moments.c.at)
    )
    gaps = (
        select(
            (epoch_us(moments.c.at) - previous).label("gap"),
            incidents.c.cadence.label("cadence"),
        )
        .join_from(moments, incidents, incidents.c.id == moments.c.incident_id)
        .join(opened, opened.c.incident_id == moments.c.incident_id)
        .subquery()
    )
    kept, intervals = session.execute(
        select(
            func.coalesce(func.sum(case((gaps.c.gap <= gaps.c.cadence, 1), else_=0)), 0),
            func.count(gaps.c.gap),
        )
    ).one()
    return int(kept), int(intervals)

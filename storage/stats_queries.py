"""The SQL behind `warroom stats`, so that what Python holds never grows with the number of
incidents: percentiles are ordered and picked in the database (only the rows at the wanted
ranks come back), and the update intervals kept on cadence are counted by one aggregate
(only the few distinct cadence settings come back first, for the caller to read).

No statement here lists incident ids (PostgreSQL takes at most 65,535 parameters): every
read is a join or an aggregate over the tables themselves (the cadences are bound per
setting, a handful whatever the count). What the figures mean (which
moments a measure runs between, how a percentile is interpolated, what cadence an incident
keeps) is decided by the caller, `bot.incidents.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import BigInteger, and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias
from sqlmodel import Session, col

from storage.models import Incident, Milestone, TimelineEvent
from storage.timeline_kinds import of_kind
from storage.types import UTCDateTime, written_cadence


class epoch_us(FunctionElement[int]):
    """Microseconds since 1970 of a stored UTC time, exact, on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds from the date functions,
    # the six digits after the point as they are (julianday's float would round them).
    # unixepoch() (SQLite 3.38) gives the same seconds as strftime('%s') at a quarter of
    # its cost, which at 50k incidents is a tenth of `warroom stats`.
    (moment,) = element.clauses
    text = compiler.process(moment, **kw)
    version = getattr(compiler.dialect.dbapi, "sqlite_version_info", (0, 0))
    whole = (
        f"unixepoch({text})" if version >= (3, 38) else f"CAST(strftime('%s', {text}) AS INTEGER)"
    )
    return f"({whole} * 1000000 + CAST(substr({text}, 21, 6) AS INTEGER))"


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: Any, **kw: Any) -> str:
    # date_part is a double, EXTRACT a numeric since PostgreSQL 14 (a tenth of the stats'
    # server time at 50k incidents); rounded, the double is exact to the microsecond through
    # 2105 (checked against EXTRACT on 2,000,000 random moments from 1970).
    (moment,) = element.clauses
    return f"CAST(round(date_part('epoch', {compiler.process(moment, **kw)}) * 1000000) AS BIGINT)"


def for_stats(session: Session) -> None:
    """Set up the session's transaction for the stats' statements: on PostgreSQL without JIT
    (at 50k incidents their plans pass `jit_above_cost`, and compiling costs more than it
    saves, 20-30 ms a statement)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SET LOCAL jit = off")


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
        assert self.first_event is not None  # one of the two is set
        event = aliased(TimelineEvent)
        return (
            select(
                col(event.incident_id).label("incident_id"),
                func.min(col(event.occurred_at), type_=UTCDateTime).label("at"),
            )
            .where(of_kind(col(event.kind), self.first_event))
            .group_by(col(event.incident_id))
            .subquery()
        )


def counted(incidents: FromClause | None = None) -> ColumnElement[bool]:
    """Which incidents the figures count: drills are exercises, not incidents."""
    drill = col(Incident.drill) if incidents is None else incidents.c.drill
    return drill.is_(False)


def counted_ids() -> Any:
    """The ids of the incidents counted, read from `ix_incidents_counted` (drill, id, ...),
    never from the rows themselves."""
    return select(col(Incident.id)).where(counted())


class _indexed_by_counted(Alias):
    """`incidents` as an alias read through `ix_incidents_counted` on SQLite."""

    inherit_cache = True


@compiles(_indexed_by_counted, "sqlite")
def _indexed_by_counted_sqlite(element: _indexed_by_counted, compiler: Any, **kw: Any) -> str:
    # Joined by id, SQLite's planner takes the row itself, about 4 KiB (the playbook
    # snapshot, `drill` stored after it): a third of the cadence statement's time at 50k.
    # The index must exist (SQLite fails the statement otherwise): SQLite databases are
    # migrated when opened.
    text = compiler.visit_alias(element, **kw)
    return f"{text} INDEXED BY ix_incidents_counted" if kw.get("asfrom") else text


def counted_incidents_table() -> FromClause:
    """`incidents` for a statement that joins each counted incident by id for its drill and
    severity only: on SQLite read from `ix_incidents_counted` (drill, id, severity)."""
    table = Incident.__table__  # type: ignore[attr-defined]  # SQLModel's stubs omit it
    return _indexed_by_counted._construct(table, name="counted")


@dataclass(frozen=True)
class Ranked:
    """A measure over the counted incidents having both its moments: how many, and the
    (start, end) pairs at the ranks asked for (0-based, ordered by end minus start)."""

    count: int
    at: dict[int, tuple[datetime, datetime]]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _moment_columns(
    moments: Sequence[Moment], *, from_milestones: bool
) -> tuple[FromClause, dict[Moment, Any]]:
    """One row per counted incident with each moment as exact epoch microseconds (NULL:
    none): the milestones by one pass over them, the first entry of a kind by one index
    seek per incident. With `from_milestones`, only incidents having one of the milestones
    asked for get a row (the others could only give NULLs where a milestone is needed)."""
    milestone_names = sorted({m.milestone for m in moments if m.milestone is not None})
    event_kinds = sorted({m.first_event for m in moments if m.first_event is not None})
    number: Any = col(Incident.id)
    query: Any = select(number.label("id")).where(counted())
    converted: dict[Moment, Any] = {}
    if milestone_names:
        name, when = col(Milestone.name), col(Milestone.at)
        pivot = (
            select(
                col(Milestone.incident_id).label("incident_id"),
                *(
                    func.max(case((name == wanted, when))).label(f"m_{n}")
                    for n, wanted in enumerate(milestone_names)
                ),
            )
            .where(name.in_(milestone_names))
            .group_by(col(Milestone.incident_id))
            .cte("milestone_times")
            .prefix_with("MATERIALIZED")
        )
        if from_milestones:
            # The pivot leads and each incident is one seek by key: joining the pivot to a
            # scan of the incidents made SQLite index the pivot first (a tenth of the time).
            number = pivot.c.incident_id
            # Drills left out by the ids in the index, not a join to the rows.
            query = select(number.label("id")).select_from(pivot).where(number.in_(counted_ids()))
        else:
            query = query.join(pivot, pivot.c.incident_id == number, isouter=True)
        for n, wanted in enumerate(milestone_names):
            converted[Moment(milestone=wanted)] = epoch_us(pivot.c[f"m_{n}"])
    for kind in event_kinds:
        posted = col(TimelineEvent.occurred_at)
        # Converted inside: epoch_us names its argument twice on SQLite, a subquery run twice.
        converted[Moment(first_event=kind)] = (
            select(epoch_us(posted))
            .where(of_kind(col(TimelineEvent.kind), kind), col(TimelineEvent.incident_id) == number)
            .order_by(posted)
            .limit(1)
            .scalar_subquery()
        )
    # Each time converted once per incident, however many measures use it.
    columns = {m: f"t{n}" for n, m in enumerate(moments)}
    times = (
        query.add_columns(*(converted[m].label(columns[m]) for m in moments))
        .cte("times")
        .prefix_with("MATERIALIZED")
    )
    return times, {m: times.c[columns[m]] for m in moments}


def ranked_gaps(
    session: Session,
    spans: Sequence[tuple[Moment, Moment]],
    fractions: Sequence[Fraction],
) -> list[Ranked]:
    """For each (start, end) span, the counted incidents having both moments, and the pairs
    at the two closest ranks of each fraction f of them: floor((n - 1) * f) and the next one
    (none past the last). One statement, and only the rows at those ranks come back."""
    if not spans:
        return []
    moments = sorted({m for span in spans for m in span}, key=repr)
    # Every span needing a milestone, incidents with none of them count in no measure.
    needs_milestone = all(start.milestone or end.milestone for start, end in spans)
    times, column = _moment_columns(moments, from_milestones=needs_milestone)
    # One narrow sort per measure (its number, the pair, the count, the rank), not one
    # wide row sorted four times: SQLite's window sorts copy every column they carry.
    measures = []
    for k, (start, end) in enumerate(spans):
        began, ended = column[start], column[end]
        gap = ended - began
        # The count by an aggregate (once), not `count(*) OVER ()`: a second window over the
        # whole partition, which SQLite buffers row by row (an eighth of the statement).
        having = select(func.count()).select_from(times).where(gap.is_not(None))
        measures.append(
            select(
                literal(k).label("k"),
                began.label("s"),
                ended.label("e"),
                having.scalar_subquery().label("n"),
                (func.row_number().over(order_by=(gap, times.c.id)) - 1).label("r"),
            ).where(gap.is_not(None))
        )
    ranked = union_all(*measures).subquery()
    n, r = ranked.c.n, ranked.c.r
    wanted = []
    for fraction in fractions:
        low = (n - 1) * fraction.numerator // fraction.denominator
        wanted.append(and_(r < n, or_(r == low, r == low + 1)))
    rows = session.connection().execute(select(ranked).where(or_(*wanted))).all()
    counts = [0] * len(spans)
    pairs: list[dict[int, tuple[datetime, datetime]]] = [{} for _ in spans]
    for k, began, ended, count, rank in rows:
        counts[k] = int(count)
        pairs[k][rank] = (_from_epoch(began), _from_epoch(ended))
    return [Ranked(count, at) for count, at in zip(counts, pairs, strict=True)]


def _from_epoch(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _configured_cadence(incidents: FromClause | None = None) -> ColumnElement[str]:
    # The snapshot keeps the playbook as its YAML has it, durations as text ("20m").
    snapshot = (
        col(Incident.playbook_snapshot) if incidents is None else incidents.c.playbook_snapshot
    )
    return written_cadence(snapshot)


def cadence_settings(session: Session) -> list[tuple[str, str | None]]:
    """Each (severity, cadence its playbook writes: None for none) some counted incident has:
    a handful, whatever the count, which the caller turns into cadences. Found one by one
    in `ix_incidents_cadence` (each the next one after the last), never reading every
    snapshot: a seek per setting and severity."""
    connection = session.connection()
    severity, written = col(Incident.severity), _configured_cadence()
    found: list[tuple[str, str | None]] = []
    level: str | None = None
    while True:
        after = severity > level if level is not None else severity.is_not(None)
        level = connection.scalar(select(func.min(severity)).where(counted(), after))
        if level is None:
            return found
        theirs = and_(counted(), severity == level)
        if connection.scalar(select(literal(1)).where(theirs, written.is_(None)).limit(1)):
            found.append((level, None))
        text: str | None = None
        while True:
            # The first from the empty text on: a range the index seeks (`IS NOT NULL` made
            # SQLite walk the NULLs, which its indexes order first).
            beyond = written > text if text is not None else written >= ""
            text = connection.scalar(
                select(written).where(theirs, beyond).order_by(written).limit(1)
            )
            if text is None:
                break
            found.append((level, text))


def counted_incidents(session: Session) -> int:
    """How many incidents the figures count."""
    return int(session.connection().scalar(select(func.count()).where(counted())) or 0)


def _cadence_of(
    cadences: Mapping[tuple[str, str | None], int | None], incidents: FromClause
) -> ColumnElement[Any]:
    """Each incident's cadence in microseconds (NULL: none), as `cadences` gives it per
    (severity, written cadence): by severity alone where its incidents all keep one cadence
    (reading the snapshot costs more than the rest), by the written one where they differ."""
    severity, written = incidents.c.severity, _configured_cadence(incidents)
    per_severity: dict[str, set[int | None]] = {}
    for (level, _), every in cadences.items():
        per_severity.setdefault(level, set()).add(every)
    whens: list[tuple[ColumnElement[bool], int]] = []
    for (level, text), every in sorted(cadences.items(), key=repr):
        if every is None:
            continue
        if len(per_severity[level]) == 1:
            whens.append((severity == level, every))
        elif text is None:
            whens.append((and_(severity == level, written.is_(None)), every))
        else:
            whens.append((and_(severity == level, written == text), every))
    return case(*whens, else_=None) if whens else literal(None, BigInteger)


def updates_on_cadence(
    session: Session,
    *,
    opening: str,
    closing: str,
    update: str,
    cadences: Mapping[tuple[str, str | None], int | None],
) -> tuple[int, int]:
    """(intervals, kept): over the counted incidents with milestone `opening` and a cadence
    (microseconds, from `cadences` by severity and written cadence), the intervals from
    `opening` through each `update` entry in time order to milestone `closing` (when
    reached), and how many were at most the cadence. One aggregate statement: each entry's
    previous one by a window over the entries in index order, each incident's times by
    seeks; nothing comes back but the two counts."""
    incidents = counted_incidents_table()
    number = incidents.c.id
    opened, closed = aliased(Milestone), aliased(Milestone)
    cadence = _cadence_of(cadences, incidents).label("cadence")
    owner, posted = col(TimelineEvent.incident_id), col(TimelineEvent.occurred_at)
    entries = (
        select(
            owner.label("incident_id"),
            epoch_us(posted).label("at"),
            func.lag(epoch_us(posted))
            # Entries at the same time in either order give the same intervals.
            .over(partition_by=owner, order_by=posted)
            .label("before"),
        )
        .where(of_kind(col(TimelineEvent.kind), update))
        .subquery("entries")
    )
    began = epoch_us(col(opened.at))
    # An update's interval runs from the update before it, the first one's from `opening`.
    after_updates = (
        select(cadence, (entries.c.at - func.coalesce(entries.c.before, began)).label("gap"))
        .select_from(entries)
        .join(incidents, number == entries.c.incident_id)
        .join(opened, and_(col(opened.incident_id) == number, col(opened.name) == opening))
        .where(counted(incidents))
    )
    # Converted inside: epoch_us names its argument twice on SQLite, a subquery run twice.
    last = (
        select(epoch_us(posted))
        .where(of_kind(col(TimelineEvent.kind), update), owner == number)
        .order_by(posted.desc())
        .limit(1)
        .scalar_subquery()
    )
    # The closing interval runs from the last update, or from `opening` when none was posted.
    to_close = (
        select(
            cadence,
            (epoch_us(col(closed.at)) - func.coalesce(last, began)).label("gap"),
        )
        .select_from(incidents)
        .join(opened, and_(col(opened.incident_id) == number, col(opened.name) == opening))
        .join(closed, and_(col(closed.incident_id) == number, col(closed.name) == closing))
        .where(counted(incidents))
    )
    gaps = union_all(after_updates, to_close).subquery("gaps")
    timed = gaps.c.cadence.is_not(None)
    query = select(
        func.count(case((timed, 1))),
        func.coalesce(func.sum(case((and_(timed, gaps.c.gap <= gaps.c.cadence), 1), else_=0)), 0),
    )
    intervals, kept = session.connection().execute(query).one()
    return int(intervals), int(kept)

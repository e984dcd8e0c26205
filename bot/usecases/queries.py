"""Use case: the read queries every adapter shares (App Home, HTTP API, CLI)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, and_, or_, select
from sqlmodel import Session, col

from bot.incidents.snapshot import (
    IncidentSnapshot,
    roles_by_incident,
    senders_by_incident,
    snapshot,
)
from storage.models import (
    OPEN_STATUSES,
    Alert,
    Followup,
    Incident,
    Milestone,
    TimelineEvent,
)


@dataclass(frozen=True)
class IncidentRecord:
    """One incident as the API shows it: its snapshot, its alerts and action items."""

    incident: IncidentSnapshot
    alerts: Sequence[Row[Any]]  # the columns of `ALERT_SHOWN`, in the order they came
    action_items: list[Followup]


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
class IncidentListed:
    """One incident as a list shows it: its own columns and the facts the snapshot works out
    from its milestones, alerts and roles, without its playbook (which a list never shows)."""

    id: int
    title: str
    severity: str
    status: str
    playbook_id: str
    drill: bool
    channel_id: str | None
    channel_name: str | None
    created_at: datetime
    started_at: datetime
    resolved_at: datetime | None
    recurrence_of: int | None = None
    source: str | None = None
    alert_names: tuple[str, ...] = ()
    roles: Mapping[str, str] = field(default_factory=dict)

    @property
    def commander(self) -> str | None:
        """Who commands the incident now."""
        return self.roles.get("commander")


@dataclass(frozen=True)
class IncidentPage:
    """One page of a list, and where the next one starts (None: this was the last)."""

    incidents: list[IncidentListed]
    next: Position | None


# The columns a list shows: never the playbook snapshot, state or postmortem text, which
# are most of a row's bytes.
_LISTED = (
    col(Incident.id),
    col(Incident.title),
    col(Incident.severity),
    col(Incident.status),
    col(Incident.playbook_id),
    col(Incident.drill),
    col(Incident.channel_id),
    col(Incident.channel_name),
    col(Incident.created_at),
    col(Incident.resolved_at),
    col(Incident.recurrence_of),
)
# The milestones whose times a list shows.
_LIST_MILESTONES = ("started", "resolved")


def incidents(
    session: Session, where: IncidentFilter, *, limit: int, after: Position | None = None
) -> IncidentPage:
    """Incidents newest first (by when they were opened, then id), `limit` at most, those
    after `after`. Paging by position, not by offset: incidents opened meanwhile sort
    before every page already read, so paging on neither repeats nor skips one."""
    # On the Core connection: plain rows, without the ORM's loading machinery.
    rows = session.connection().execute(list_query(where, after).limit(limit + 1)).all()
    shown = rows[:limit]
    last = shown[-1] if len(rows) > limit else None
    following = Position(last.created_at, last.id) if last is not None else None
    return IncidentPage(_listed(session, shown), following)


def list_query(where: IncidentFilter, after: Position | None) -> Select[*tuple[Any, ...]]:
    """The list's statement, without its limit: the columns shown, newest first."""
    opened, number = col(Incident.created_at), col(Incident.id)
    query = select(*_LISTED).order_by(opened.desc(), number.desc())
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
        # The first conjunct alone is a range the (…, created_at, id) indexes seek to.
        query = query.where(
            opened <= after.opened_at,
            or_(opened < after.opened_at, and_(opened == after.opened_at, number < after.id)),
        )
    return query


def _listed(session: Session, rows: Sequence[Row[Any]]) -> list[IncidentListed]:
    """The page's rows with their impact start, resolution, senders and roles: three
    narrow queries for the whole page."""
    ids = [row.id for row in rows]
    moments: dict[int, dict[str, datetime]] = {}
    if ids:
        found = session.execute(
            select(col(Milestone.incident_id), col(Milestone.name), col(Milestone.at)).where(
                col(Milestone.incident_id).in_(ids), col(Milestone.name).in_(_LIST_MILESTONES)
            )
        )
        for incident_id, name, at in found:
            moments.setdefault(incident_id, {})[name] = at
    senders = senders_by_incident(session, ids)
    roles = roles_by_incident(session, ids)
    listed = []
    for row in rows:
        known = moments.get(row.id, {})
        listed.append(
            IncidentListed(
                id=row.id,
                title=row.title,
                severity=row.severity,
                status=row.status,
                playbook_id=row.playbook_id,
                drill=row.drill,
                channel_id=row.channel_id,
                channel_name=row.channel_name,
                created_at=row.created_at,
                # As the snapshot has them: the milestones win over the columns.
                started_at=known.get("started", row.created_at),
                resolved_at=known.get("resolved", row.resolved_at),
                recurrence_of=row.recurrence_of,
                roles=roles.get(row.id, {}),
                **senders.get(row.id, {}),
            )
        )
    return listed


# What the API shows of an alert, as plain rows: a storm's incident has tens of thousands,
# and an ORM object each cost twice the read.
ALERT_SHOWN = select(
    col(Alert.source),
    col(Alert.fingerprint),
    col(Alert.title),
    col(Alert.status),
    col(Alert.labels),
    col(Alert.annotations),
    col(Alert.starts_at),
    col(Alert.ends_at),
    col(Alert.seen_count),
    col(Alert.url),
)


def incident_record(
    session: Session, incident_id: int, *, alerts: bool = True
) -> IncidentRecord | None:
    """Everything known about one incident (its alerts left out unless `alerts`); None if
    there is no such incident."""
    found = snapshot(session, incident_id)
    if found is None:
        return None
    shown: Sequence[Row[Any]] = []
    if alerts:
        shown = session.execute(
            ALERT_SHOWN.where(col(Alert.incident_id) == incident_id).order_by(col(Alert.id))
        ).all()
    items = session.scalars(
        select(Followup)
        .where(col(Followup.incident_id) == incident_id)
        .order_by(col(Followup.number))
    )
    return IncidentRecord(found, shown, list(items))


class TimelineEntry(NamedTuple):
    """One timeline entry as the API shows it."""

    at: datetime
    kind: str
    actor: str | None
    text: str
    source: str


@dataclass(frozen=True)
class EntryPosition:
    """Where a timeline page ended: its last entry, by the timeline's order (time, id)."""

    occurred_at: datetime
    id: int


@dataclass(frozen=True)
class TimelinePage:
    """A run of an incident's timeline, in order, and where the next one starts (None:
    nothing follows it now)."""

    entries: list[TimelineEntry]
    next: EntryPosition | None


def incident_events(
    session: Session, incident_id: int, *, limit: int, after: EntryPosition | None = None
) -> TimelinePage | None:
    """The first `limit` timeline entries after `after` (from the start without it), in
    the order things happened; None if there is no such incident. Paged by position: an
    entry recorded meanwhile at an earlier time (a backdated log) is not shown to a
    reader already past it, and no entry is shown twice."""
    if not _exists(session, incident_id):
        return None
    # On the Core connection: plain rows, without the ORM's loading machinery.
    statement = timeline_query(incident_id, after).limit(limit + 1)
    rows = session.connection().execute(statement).all()
    shown = rows[:limit]
    last = shown[-1] if len(rows) > limit else None
    following = EntryPosition(last.at, last.id) if last is not None else None
    return TimelinePage(_entries_of(shown), following)


def timeline_query(incident_id: int, after: EntryPosition | None) -> Select[*tuple[Any, ...]]:
    """The timeline's statement, without its limit: the entries after `after`, in order."""
    at, number = col(TimelineEvent.occurred_at), col(TimelineEvent.id)
    query = _entries(incident_id).order_by(at, number)
    if after is not None:
        # The first conjunct alone is a range ix_timeline_incident_occurred seeks to.
        query = query.where(at >= after.occurred_at, or_(at > after.occurred_at, number > after.id))
    return query


def last_events(session: Session, incident_id: int, *, count: int) -> TimelinePage | None:
    """The last `count` timeline entries, in the order things happened; None if there is
    no such incident."""
    if not _exists(session, incident_id):
        return None
    at, number = col(TimelineEvent.occurred_at), col(TimelineEvent.id)
    statement = _entries(incident_id).order_by(at.desc(), number.desc()).limit(count)
    rows = session.connection().execute(statement).all()
    return TimelinePage(_entries_of(reversed(rows)), None)


def _exists(session: Session, incident_id: int) -> bool:
    found = session.scalar(select(col(Incident.id)).where(col(Incident.id) == incident_id))
    return found is not None


def _entries(incident_id: int) -> Select[*tuple[Any, ...]]:
    """The columns an entry shows (not its data), and its id to order and page by."""
    return select(
        col(TimelineEvent.occurred_at).label("at"),
        col(TimelineEvent.kind),
        col(TimelineEvent.actor),
        col(TimelineEvent.text),
        col(TimelineEvent.source),
        col(TimelineEvent.id),
    ).where(col(TimelineEvent.incident_id) == incident_id)


def _entries_of(rows: Iterable[Sequence[Any]]) -> list[TimelineEntry]:
    # Unpacked by position: a row's attribute lookup by name costs more than the rest.
    return [
        TimelineEntry(at, kind, actor, text, source) for at, kind, actor, text, source, _ in rows
    ]

"""Read-only views of an incident for a responder: structured, worded by the adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlmodel import Session, col

from bot.incidents.effects import WEBHOOK
from bot.incidents.followups import CHANGE_KINDS as FOLLOWUP_CHANGES
from bot.incidents.overview import IncidentList
from bot.incidents.people import known_names, name_of, with_names
from bot.incidents.postmortem_life import KINDS as POSTMORTEM_KINDS
from bot.incidents.times import elapsed, format_duration, format_on_day, start_day
from storage.models import Incident, Milestone, TimelineEvent
from storage.timeline_kinds import of_kind

if TYPE_CHECKING:
    from bot.incidents.snapshot import IncidentSnapshot

TIMELINE_LIMIT = 50
# The timeline entries a catch-up ends with: enough to see what is going on now.
CATCHUP_LIMIT = 5


def is_bookkeeping(kind: str, data: Mapping[str, Any] | None) -> bool:
    """Whether a timeline entry records delivery plumbing rather than the response itself:
    each webhook delivery (and a webhook given up on), and every try of an integration
    that failed and was retried. Kept in the API's timeline (`source: system`); a
    postmortem reader wants what people and the outside world saw, and the outcome of a
    page or status-page update, which stay. A follow-up's later changes and its ticket
    are what the action items table shows, so they stay out of the timeline too, as does
    the postmortem's own life (owner, review, publish, reminders, the channel's archive)."""
    data = data or {}
    if kind in FOLLOWUP_CHANGES or kind in POSTMORTEM_KINDS:
        return True
    if kind == "integration":
        return data.get("integration") in ("webhook", "tracker") or (
            data.get("ok") is False and bool(data.get("retry"))
        )
    return kind in ("delivery_failed", "delivery_refused") and data.get("kind") == WEBHOOK


def timeline(session: Session, incident_id: int) -> list[TimelineEvent]:
    """An incident's timeline in the order things happened."""
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(col(TimelineEvent.incident_id) == incident_id)
            .order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id))
        )
    )


def started_at(session: Session, incident: Incident) -> datetime:
    """When impact started: the `started` milestone, else when the incident opened."""
    at = session.scalar(
        select(col(Milestone.at)).where(
            col(Milestone.incident_id) == incident.id, col(Milestone.name) == "started"
        )
    )
    return at if at is not None else incident.created_at


@dataclass(frozen=True)
class Entry:
    """One timeline entry as shown: its local time (with the date when it is not on the
    day impact started), kind, text and who."""

    when: str
    kind: str
    text: str
    actor: str | None


@dataclass(frozen=True)
class TimelineShown:
    """The last entries of an incident's timeline, in the team's time zone."""

    incident_id: int
    zone: str
    entries: tuple[Entry, ...]
    earlier: int  # entries before those shown (all of them are in the postmortem)


@dataclass(frozen=True)
class TasksShown:
    """The current stage's checklist (`stage` None: the incident has no playbook stages)."""

    stage: str | None
    tasks: tuple[tuple[int, str, bool], ...] = ()


@dataclass(frozen=True)
class CatchUpShown:
    """Where an incident stands, for someone arriving late: the stage and its open tasks,
    who holds which role (by name), the last status update with how long ago it was
    posted (`update_age`), and the last few timeline entries."""

    incident_id: int
    title: str
    severity: str
    status: str
    stage: str | None
    open_tasks: tuple[tuple[int, str], ...]
    roles: tuple[tuple[str, str], ...]
    last_update: Entry | None
    update_age: str | None
    entries: tuple[Entry, ...]
    zone: str


Shown = TimelineShown | TasksShown | IncidentList | CatchUpShown


class _Shown(NamedTuple):
    """A timeline entry's columns that a view shows."""

    occurred_at: datetime
    kind: str
    actor: str | None
    text: str
    source: str


# The kinds whose data decides whether an entry is bookkeeping; for every other kind the
# kind alone does, so their data (an alert's payload) is never read.
_DATA_KINDS = ("integration", "delivery_failed", "delivery_refused")
# Entries read at a time, newest first, while looking for the last responses.
_CHUNK = 200


def _shown_columns(incident_id: int) -> Select[Any]:
    kind, data = col(TimelineEvent.kind), col(TimelineEvent.data)
    return select(
        col(TimelineEvent.occurred_at),
        kind,
        col(TimelineEvent.actor),
        col(TimelineEvent.text),
        col(TimelineEvent.source),
        case((kind.in_(_DATA_KINDS), data)).label("data"),
        col(TimelineEvent.id),
    ).where(col(TimelineEvent.incident_id) == incident_id)


def _last_responses(
    session: Session, incident_id: int, count: int, *, kind: str | None = None
) -> list[_Shown]:
    """The last `count` entries without delivery bookkeeping (of `kind` only, if given), in
    the order things happened: read newest first, a chunk at a time, never the whole
    timeline (a storm's has tens of thousands of entries)."""
    at, number = col(TimelineEvent.occurred_at), col(TimelineEvent.id)
    query = _shown_columns(incident_id).order_by(at.desc(), number.desc())
    if kind is not None:
        query = query.where(of_kind(col(TimelineEvent.kind), kind))
    found: list[_Shown] = []
    before: tuple[datetime, int] | None = None
    while len(found) < count:
        chunk = query
        if before is not None:
            chunk = query.where(
                at <= before[0], or_(at < before[0], and_(at == before[0], number < before[1]))
            )
        rows = session.execute(chunk.limit(_CHUNK)).all()
        for occurred_at, what, actor, text, source, data, _ in rows:
            if not is_bookkeeping(what, data):
                found.append(_Shown(occurred_at, what, actor, text, source))
                if len(found) == count:
                    break
        if len(rows) < _CHUNK:
            break
        before = (rows[-1].occurred_at, rows[-1].id)
    return found[::-1]


def _responses_count(session: Session, incident_id: int) -> int:
    """How many entries are not delivery bookkeeping: counted by the database, but for the
    kinds whose data decides, which are read as (kind, data)."""
    kind = col(TimelineEvent.kind)
    mine = col(TimelineEvent.incident_id) == incident_id
    plain = session.scalar(
        select(func.count())
        .select_from(TimelineEvent)
        .where(mine, kind.not_in((*FOLLOWUP_CHANGES, *_DATA_KINDS)))
    )
    decided = session.execute(
        select(kind, col(TimelineEvent.data)).where(mine, of_kind(kind, *_DATA_KINDS))
    )
    return int(plain or 0) + sum(1 for what, data in decided if not is_bookkeeping(what, data))


def _entries(
    session: Session,
    incident: Incident,
    events: Sequence[_Shown],
    tz: ZoneInfo,
    people: tuple[str, ...] = (),
) -> tuple[tuple[Entry, ...], dict[str, str]]:
    """Entries as shown, and the names known of their people and of `people`."""
    day = start_day(started_at(session, incident), tz)
    # People by name: ids are what the record keeps, not what a responder reads. An alert's
    # own text is shown as the sender wrote it.
    ours = [e.text for e in events if e.source != "alert"]
    known = known_names(session, (*(e.actor for e in events), *people), ours)
    entries = tuple(
        Entry(
            format_on_day(e.occurred_at, tz, day),
            e.kind,
            e.text if e.source == "alert" else with_names(e.text, known),
            name_of(e.actor, known),
        )
        for e in events
    )
    return entries, known


def timeline_shown(session: Session, incident: Incident, tz: ZoneInfo) -> TimelineShown:
    """The last TIMELINE_LIMIT entries of the timeline, in the team's time zone, without
    delivery bookkeeping (as the postmortem; the API keeps it)."""
    assert incident.id is not None
    shown = _last_responses(session, incident.id, TIMELINE_LIMIT)
    entries, _ = _entries(session, incident, shown, tz)
    earlier = _responses_count(session, incident.id) - len(shown)
    return TimelineShown(incident.id, tz.key, entries, earlier=earlier)


def catchup_shown(
    session: Session, incident: Incident, snapshot: IncidentSnapshot, tz: ZoneInfo, now: datetime
) -> CatchUpShown:
    """Where the incident stands now, from its stored record alone: the same record gives
    the same catch-up, whoever asks."""
    assert incident.id is not None
    last = _last_responses(session, incident.id, 1, kind="update")
    events = _last_responses(session, incident.id, CATCHUP_LIMIT)
    holders = tuple(snapshot.roles.values())
    entries, known = _entries(session, incident, [*last, *events], tz, holders)
    stage = snapshot.stage
    return CatchUpShown(
        incident_id=incident.id,
        title=snapshot.title,
        severity=snapshot.severity,
        status=snapshot.status,
        stage=stage.title if stage is not None else None,
        open_tasks=tuple((t.n, t.text) for t in stage.tasks if not t.done) if stage else (),
        roles=tuple(
            (role, name_of(user, known) or user) for role, user in sorted(snapshot.roles.items())
        ),
        last_update=entries[0] if last else None,
        update_age=format_duration(elapsed(last[0].occurred_at, now)) if last else None,
        entries=entries[len(last) :],
        zone=tz.key,
    )


def tasks_shown(snapshot: IncidentSnapshot) -> TasksShown:
    """The current stage's checklist, with what is done."""
    stage = snapshot.stage
    if stage is None:
        return TasksShown(None)
    return TasksShown(stage.title, tuple((t.n, t.text, t.done) for t in stage.tasks))

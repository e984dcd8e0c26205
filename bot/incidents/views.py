"""Read-only views of an incident for a responder: structured, worded by the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.times import format_on_day, start_day
from storage.models import Incident, Milestone, TimelineEvent

if TYPE_CHECKING:
    from bot.incidents.snapshot import IncidentSnapshot

TIMELINE_LIMIT = 50


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


Shown = TimelineShown | TasksShown


def timeline_shown(session: Session, incident: Incident, tz: ZoneInfo) -> TimelineShown:
    """The last TIMELINE_LIMIT entries of the timeline, in the team's time zone."""
    assert incident.id is not None
    events = timeline(session, incident.id)
    day = start_day(started_at(session, incident), tz)
    shown = events[-TIMELINE_LIMIT:]
    entries = tuple(
        Entry(format_on_day(e.occurred_at, tz, day), e.kind, e.text, e.actor) for e in shown
    )
    return TimelineShown(incident.id, tz.key, entries, earlier=len(events) - len(shown))


def tasks_shown(snapshot: IncidentSnapshot) -> TasksShown:
    """The current stage's checklist, with what is done."""
    stage = snapshot.stage
    if stage is None:
        return TasksShown(None)
    return TasksShown(stage.title, tuple((t.n, t.text, t.done) for t in stage.tasks))

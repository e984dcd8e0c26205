"""The SQL behind the weekly series of `warroom stats`: one narrow row per counted incident
whose impact started in a window, streamed in chunks, never loaded as ORM objects.

Each row carries the incident's grouping keys (severity, playbook, service), its response
milestones as microseconds since 1970 and its follow-ups counted by an aggregate. Which
week a row falls in and what its figures mean is decided by `bot.incidents.weekly_stats`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, union
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from storage.models import Alert, Followup, Incident, Milestone
from storage.stats_queries import EPOCH, counted, epoch_us

# The milestones a weekly row carries, besides the impact start.
RESPONSE = ("acknowledged", "mitigated", "resolved")
# Alert labels naming the affected service, the first one present wins.
SERVICE_LABELS = ("service", "job", "app")
CHUNK = 1000


@dataclass(frozen=True)
class WeeklyRow:
    """One incident: grouping keys, times in microseconds since 1970 (None: not reached)."""

    severity: str
    playbook: str
    service: str | None
    started: int
    acknowledged: int | None
    mitigated: int | None
    resolved: int | None
    followups: int
    followups_done: int


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _candidates(since: datetime, until: datetime) -> Any:
    """A superset of the incidents whose impact started in [since, until), found by index:
    the impact start is one of these three times, compared as stored (no conversion)."""
    name, at = col(Milestone.name), col(Milestone.at)
    opened = col(Incident.created_at)
    return union(
        select(col(Milestone.incident_id)).where(name == "started", at >= since, at < until),
        select(col(Milestone.incident_id)).where(name == "declared", at >= since, at < until),
        select(col(Incident.id)).where(opened >= since, opened < until),
    )


def incident_rows(
    session: Session, *, since: datetime, until: datetime, chunk: int = CHUNK
) -> Iterator[WeeklyRow]:
    """Counted incidents whose impact started in [since, until), oldest first, read
    `chunk` rows at a time."""
    incident = col(Incident.id)

    # Each time, service and count is a seek by incident, for the window's incidents only:
    # aggregating whole tables first would cost as much with an empty window as a full one.
    reached = {name: aliased(Milestone) for name in ("started", "declared", *RESPONSE)}
    labels: Any = col(Alert.labels)
    service = (
        select(func.min(func.coalesce(*(labels[k].as_string() for k in SERVICE_LABELS))))
        .where(col(Alert.incident_id) == incident)
        .scalar_subquery()
    )
    theirs = col(Followup.incident_id) == incident
    followups = select(func.count()).where(theirs).scalar_subquery()
    done = select(func.count()).where(theirs, col(Followup.status) == "done").scalar_subquery()
    snapshot: Any = col(Incident.playbook_snapshot)
    # Impact start: the `started` milestone, else the declaration, as the snapshot has it.
    started = func.coalesce(
        col(reached["started"].at), col(reached["declared"].at), col(Incident.created_at)
    )
    rows: Any = (
        select(
            incident.label("id"),
            col(Incident.severity).label("severity"),
            col(Incident.playbook_id).label("playbook"),
            func.coalesce(service, snapshot["match"]["service"].as_string()).label("service"),
            epoch_us(started).label("started"),
            *(epoch_us(col(reached[name].at)).label(name) for name in RESPONSE),
            followups.label("followups"),
            done.label("done"),
        )
        .select_from(Incident)
        .where(incident.in_(_candidates(since, until)), counted())
    )
    for name, milestone in reached.items():
        reaches = and_(col(milestone.incident_id) == incident, col(milestone.name) == name)
        rows = rows.outerjoin(milestone, reaches)
    window = rows.subquery("rows")
    shown = ("severity", "playbook", "service", "started", *RESPONSE, "followups", "done")
    query = (
        select(*(window.c[name] for name in shown))
        .where(window.c.started >= _micros(since), window.c.started < _micros(until))
        .order_by(window.c.started, window.c.id)
    )
    # Streamed `chunk` rows at a time (a server-side cursor on PostgreSQL); the option is
    # given to this statement only, not set on the session's connection.
    result = session.connection().execute(query, execution_options={"yield_per": chunk})
    for row in result:
        yield WeeklyRow(
            severity=row[0],
            playbook=row[1],
            service=row[2],
            started=int(row[3]),
            acknowledged=_int(row[4]),
            mitigated=_int(row[5]),
            resolved=_int(row[6]),
            followups=int(row[7]),
            followups_done=int(row[8]),
        )


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None

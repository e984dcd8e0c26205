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

from sqlalchemy import case, func, select
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


def incident_rows(
    session: Session, *, since: datetime, until: datetime, chunk: int = CHUNK
) -> Iterator[WeeklyRow]:
    """Counted incidents whose impact started in [since, until), oldest first, read
    `chunk` rows at a time."""
    name, at = col(Milestone.name), col(Milestone.at)
    wanted = ("started", "declared", *RESPONSE)
    times = (
        select(
            col(Milestone.incident_id).label("incident_id"),
            *(func.max(case((name == n, at))).label(n) for n in wanted),
        )
        .where(name.in_(wanted))
        .group_by(col(Milestone.incident_id))
        .subquery("times")
    )
    labels: Any = col(Alert.labels)
    service = (
        select(
            col(Alert.incident_id).label("incident_id"),
            func.min(func.coalesce(*(labels[k].as_string() for k in SERVICE_LABELS))).label(
                "service"
            ),
        )
        .group_by(col(Alert.incident_id))
        .subquery("services")
    )
    status = col(Followup.status)
    followups = (
        select(
            col(Followup.incident_id).label("incident_id"),
            func.count().label("opened"),
            func.sum(case((status == "done", 1), else_=0)).label("done"),
        )
        .group_by(col(Followup.incident_id))
        .subquery("followups")
    )
    snapshot: Any = col(Incident.playbook_snapshot)
    # Impact start: the `started` milestone, else the declaration, as the snapshot has it.
    started = epoch_us(func.coalesce(times.c.started, times.c.declared, col(Incident.created_at)))
    query = (
        select(
            col(Incident.severity),
            col(Incident.playbook_id),
            func.coalesce(service.c.service, snapshot["match"]["service"].as_string()),
            started.label("started"),
            *(epoch_us(times.c[n]) for n in RESPONSE),
            func.coalesce(followups.c.opened, 0),
            func.coalesce(followups.c.done, 0),
        )
        .select_from(Incident)
        .join(times, times.c.incident_id == col(Incident.id), isouter=True)
        .join(service, service.c.incident_id == col(Incident.id), isouter=True)
        .join(followups, followups.c.incident_id == col(Incident.id), isouter=True)
        .where(counted(), started >= _micros(since), started < _micros(until))
        .order_by(started, col(Incident.id))
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

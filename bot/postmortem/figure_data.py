"""What the postmortem's timeline figure shows, read from the incident's snapshot (the one the
draft is built from) and its status updates; no plotting here, so reading it costs no
matplotlib import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.snapshot import snapshot
from storage.models import TimelineEvent
from storage.timeline_kinds import of_kind

# The milestones marked, in the order they happen in a typical incident.
MILESTONES = ("started", "declared", "acknowledged", "mitigated", "resolved")


@dataclass(frozen=True)
class Stage:
    """A stage the incident entered, from entering it until the next one (or the end)."""

    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class TimelineData:
    """What the figure shows, all times aware (UTC); `end` is the right edge."""

    incident_id: int
    title: str
    severity: str
    impact_start: datetime
    impact_end: datetime | None  # mitigated, else resolved; None while ongoing
    stages: tuple[Stage, ...]
    milestones: tuple[tuple[str, datetime], ...]
    updates: tuple[datetime, ...]
    end: datetime


def gather(session: Session, incident_id: int) -> TimelineData:
    """Read what the figure needs: the postmortem's snapshot and the status updates' times."""
    incident = snapshot(session, incident_id)
    if incident is None:
        raise LookupError(f"No incident #{incident_id}")
    updates = tuple(
        session.execute(
            select(col(TimelineEvent.occurred_at))
            .where(
                col(TimelineEvent.incident_id) == incident_id,
                of_kind(col(TimelineEvent.kind), "update"),
            )
            .order_by(col(TimelineEvent.occurred_at))
        ).scalars()
    )
    times = incident.milestone_times
    marks = tuple((name, times[name]) for name in MILESTONES if name in times)
    entered = sorted(
        (stage.entered_at, stage.title) for stage in incident.stages if stage.entered_at
    )
    moments = [incident.started_at, *times.values(), *updates, *(at for at, _ in entered)]
    end = times.get("resolved") or max(moments)
    stages = tuple(
        Stage(title, at, entered[n + 1][0] if n + 1 < len(entered) else max(end, at))
        for n, (at, title) in enumerate(entered)
    )
    return TimelineData(
        incident_id=incident_id,
        title=incident.title,
        severity=incident.severity,
        impact_start=incident.started_at,
        impact_end=times.get("mitigated") or times.get("resolved"),
        stages=stages,
        milestones=marks,
        updates=updates,
        end=end,
    )

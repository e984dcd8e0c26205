"""Across incidents: how fast the team acknowledges, mitigates and resolves, drills left out."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.reminders import status_update_cadence
from bot.incidents.times import elapsed
from storage.models import Incident, Milestone, TimelineEvent

MEASURES = (
    ("time to acknowledge", "acknowledged"),
    ("time to mitigate", "mitigated"),
    ("time to resolve", "resolved"),
)


@dataclass(frozen=True)
class Figure:
    """One measure over the incidents that have it."""

    name: str
    count: int
    median: timedelta | None
    p90: timedelta | None


# How medians and p90 are computed, as the stats and the postmortem say it.
METHOD = (
    "medians and p90 by linear interpolation between the closest ranks "
    "(a median of an even count is the mean of the middle two)"
)


def percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    """The `fraction` percentile by linear interpolation between the closest ranks.

    This is numpy's default and Excel's PERCENTILE.INC: position (n - 1) * fraction in the
    sorted values, between its two neighbours; fraction 0.5 is the true median. None for
    no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def figures(session: Session) -> tuple[int, list[Figure], float | None]:
    """Incidents counted, their figures, and the share of update intervals kept on cadence."""
    incidents = list(session.scalars(select(Incident).where(col(Incident.drill).is_(False))))
    ids = [i.id for i in incidents]
    if not ids:
        names = [name for name, _ in MEASURES] + ["time to first update"]
        return 0, [Figure(name, 0, None, None) for name in names], None
    milestones: dict[int, dict[str, Milestone]] = {}
    for row in session.scalars(select(Milestone).where(col(Milestone.incident_id).in_(ids))):
        milestones.setdefault(row.incident_id, {})[row.name] = row
    updates: dict[int, list[TimelineEvent]] = {}
    for event in session.scalars(
        select(TimelineEvent)
        .where(col(TimelineEvent.incident_id).in_(ids), col(TimelineEvent.kind) == "update")
        .order_by(col(TimelineEvent.occurred_at))
    ):
        updates.setdefault(event.incident_id, []).append(event)

    result: list[Figure] = []
    for name, milestone in MEASURES:
        values = []
        for incident in incidents:
            marks = milestones.get(incident.id or 0, {})
            if "started" in marks and milestone in marks:
                values.append(elapsed(marks["started"].at, marks[milestone].at))
        result.append(Figure(name, len(values), percentile(values, 0.5), percentile(values, 0.9)))

    first_updates, kept, intervals = [], 0, 0
    for incident in incidents:
        marks = milestones.get(incident.id or 0, {})
        posted = updates.get(incident.id or 0, [])
        declared = marks.get("declared")
        if posted and declared:
            first_updates.append(elapsed(declared.at, posted[0].occurred_at))
        cadence = status_update_cadence(incident)
        if cadence is None or declared is None:
            continue
        end = marks["resolved"].at if "resolved" in marks else None
        times = [declared.at, *(e.occurred_at for e in posted)] + ([end] if end else [])
        for before, after in itertools.pairwise(times):
            intervals += 1
            kept += after - before <= cadence
    result.append(
        Figure(
            "time to first update",
            len(first_updates),
            percentile(first_updates, 0.5),
            percentile(first_updates, 0.9),
        )
    )
    return len(incidents), result, (kept / intervals if intervals else None)

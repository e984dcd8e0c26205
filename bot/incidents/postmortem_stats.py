"""Postmortem figures per ISO week of resolve and overall: how many were owed, how many
published, and how fast.

Weeks are ISO weeks (Monday to Sunday) of the resolve in UTC. Drills are left out.
`due` counts the postmortems whose due date had come by the end of the window;
`completion` is published / resolved (None with nothing resolved); `median_to_publish`
runs from resolve to the last publish (None with nothing published).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median

from sqlmodel import Session

from storage.postmortems import publish_delays, weekly_counts

_WEEK_ZERO = date(1969, 12, 29)  # the Monday storage counts weeks from


@dataclass(frozen=True)
class PostmortemFigures:
    """One week's (or the whole window's) postmortem figures."""

    resolved: int
    due: int
    published: int
    completion: float | None
    median_to_publish: timedelta | None


@dataclass(frozen=True)
class WeekFigures(PostmortemFigures):
    """Figures of the incidents resolved in one ISO week (`week`: `2026-W49`, `monday`)."""

    week: str = ""
    monday: date = _WEEK_ZERO


@dataclass(frozen=True)
class PostmortemStats:
    """Per ISO week of resolve, in order, and over the whole window."""

    weeks: list[WeekFigures]
    overall: PostmortemFigures


def _figures(
    resolved: int, due: int, published: int, delays: list[int]
) -> tuple[int, int, int, float | None, timedelta | None]:
    completion = published / resolved if resolved else None
    middle = timedelta(microseconds=median(delays)) if delays else None
    return resolved, due, published, completion, middle


def postmortem_stats(session: Session, *, since: datetime, until: datetime) -> PostmortemStats:
    """Postmortem completion of the incidents resolved in [since, until), by week and overall."""
    due_by = until.astimezone(UTC).date()
    counts = weekly_counts(session=session, since=since, until=until, due_by=due_by)
    delays: dict[int, list[int]] = {}
    for week, delay in publish_delays(session=session, since=since, until=until):
        delays.setdefault(week, []).append(delay)
    weeks = []
    for week, resolved, due, published in counts:
        monday = _WEEK_ZERO + timedelta(weeks=week)
        year, number, _ = monday.isocalendar()
        shown = _figures(resolved, due, published, delays.get(week, []))
        weeks.append(WeekFigures(*shown, week=f"{year}-W{number:02d}", monday=monday))
    every_delay = [d for week_delays in delays.values() for d in week_delays]
    overall = PostmortemFigures(
        *_figures(
            sum(w.resolved for w in weeks),
            sum(w.due for w in weeks),
            sum(w.published for w in weeks),
            every_delay,
        )
    )
    return PostmortemStats(weeks=weeks, overall=overall)

"""Postmortem figures per ISO week of resolve and overall: how many were owed, how many
published, and how fast.

Weeks are ISO weeks (Monday to Sunday) of the resolve in the team's time zone, as the
weekly series' are. Drills are left out.
`due` counts the postmortems whose due date (a day in the team's zone) had come by the end
of the window;
`completion` is published / resolved (None with nothing resolved); `median_to_publish`
runs from resolve to the last publish (None with nothing published).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from statistics import median

from sqlmodel import Session

from storage.postmortems import SLOT_US, publish_delays, weekly_counts

_WEEK_ZERO = date(1969, 12, 29)  # a Monday, for figures that belong to no week
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _monday(slot: int, tz: tzinfo) -> date:
    """The Monday of the week, in `tz`, that a quarter hour since the epoch falls in."""
    day = (_EPOCH + timedelta(microseconds=slot * SLOT_US)).astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def postmortem_stats(
    session: Session, *, since: datetime, until: datetime, tz: tzinfo = UTC
) -> PostmortemStats:
    """Postmortem completion of the incidents resolved in [since, until), by week of resolve
    in `tz` and overall."""
    due_by = until.astimezone(tz).date()
    counted: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for slot, resolved, due, published in weekly_counts(
        session=session, since=since, until=until, due_by=due_by
    ):
        figures = counted[_monday(slot, tz)]
        figures[0] += resolved
        figures[1] += due
        figures[2] += published
    delays: dict[date, list[int]] = defaultdict(list)
    for slot, delay in publish_delays(session=session, since=since, until=until):
        delays[_monday(slot, tz)].append(delay)
    weeks = []
    for monday in sorted(counted):
        resolved, due, published = counted[monday]
        year, number, _ = monday.isocalendar()
        shown = _figures(resolved, due, published, delays.get(monday, []))
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

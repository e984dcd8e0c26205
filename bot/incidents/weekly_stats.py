"""Week by week: how fast the team responds and how many follow-ups it finishes, per group.

An incident belongs to the ISO week (Monday to Sunday, in the team's time zone) in which
its impact started, and to one group: its severity, its playbook, or its service (the
alerts' `service`/`job`/`app` label, else the service its playbook matches on). For each
week and group: the median (and count) of the times to acknowledge, mitigate and resolve,
measured from impact start as the other stats are, and the follow-ups of those incidents
done over opened. Drills are left out. The rows come from `storage.weekly_queries`, one
narrow row per incident; only one integer per measured incident is kept per group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.incidents.postmortem_stats import PostmortemStats, postmortem_stats
from bot.incidents.weekly_window import WeeklyRequest
from storage.weekly_queries import EPOCH, incident_rows

# The group of incidents whose alerts and playbook name no service.
NO_SERVICE = "(no service)"
# (figure name, milestone): each measured from the impact start.
WEEKLY_MEASURES = (
    ("time to acknowledge", "acknowledged"),
    ("time to mitigate", "mitigated"),
    ("time to resolve", "resolved"),
)


@dataclass(frozen=True)
class WeekFigure:
    """One measure over a week's incidents of one group."""

    name: str
    count: int
    median: timedelta | None


@dataclass(frozen=True)
class WeekGroup:
    """One group's figures in one ISO week; completion is None when nothing was opened."""

    week: str  # ISO week, "2026-W09"
    monday: date
    group: str
    incidents: int
    figures: tuple[WeekFigure, ...]
    followups_opened: int
    followups_done: int

    @property
    def followup_completion(self) -> float | None:
        """Follow-ups done over opened (0 to 1)."""
        return self.followups_done / self.followups_opened if self.followups_opened else None

    def figure(self, name: str) -> WeekFigure:
        """One measure by name."""
        return next(figure for figure in self.figures if figure.name == name)


@dataclass(frozen=True)
class WeeklyStats:
    """The weekly section: every ISO week of the window (empty ones too), the groups seen,
    and one entry per week and group that had an incident, weeks in order."""

    since: date
    until: date
    by: str
    timezone: str
    weeks: tuple[str, ...]
    groups: tuple[str, ...]
    series: tuple[WeekGroup, ...]
    # Postmortem completion by ISO week of resolve, and over the window: not per group.
    postmortems: PostmortemStats | None = field(default=None)


def iso_week(day: date) -> str:
    """`2026-W09`: the ISO year and week number of a day."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_between(first: date, last: date) -> list[tuple[str, date]]:
    """Every ISO week from the one holding `first` to the one holding `last`, with its
    Monday."""
    monday = first - timedelta(days=first.weekday())
    weeks = []
    while monday <= last:
        weeks.append((iso_week(monday), monday))
        monday += timedelta(weeks=1)
    return weeks


def median(values: list[int]) -> timedelta | None:
    """The median of microsecond counts: the middle one, or the mean of the middle two
    (the same as the other stats' linear interpolation at one half); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return timedelta(microseconds=ordered[middle])
    return timedelta(microseconds=(ordered[middle - 1] + ordered[middle]) / 2)


def _local_day(micros: int, tz: ZoneInfo) -> date:
    return (EPOCH + timedelta(microseconds=micros)).astimezone(tz).date()


def weekly_stats(session: Session, request: WeeklyRequest) -> WeeklyStats:
    """The weekly series over incidents whose impact started in the request's window."""
    tz = request.tz
    incidents: dict[tuple[str, str], int] = defaultdict(int)
    gaps: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    opened: dict[tuple[str, str], int] = defaultdict(int)
    done: dict[tuple[str, str], int] = defaultdict(int)
    for row in incident_rows(session, since=request.start, until=request.until):
        week = iso_week(_local_day(row.started, tz))
        group = {"severity": row.severity, "playbook": row.playbook}.get(
            request.by, row.service or NO_SERVICE
        )
        key = (week, group)
        incidents[key] += 1
        opened[key] += row.followups
        done[key] += row.followups_done
        for name, milestone in WEEKLY_MEASURES:
            end = getattr(row, milestone)
            if end is not None:
                # Never negative, as everywhere else: milestones out of order count as 0.
                gaps[(week, group, name)].append(max(end - row.started, 0))
    first, last = request.start.astimezone(tz).date(), request.until.astimezone(tz).date()
    weeks = weeks_between(first, last)
    groups = sorted({group for _, group in incidents})
    series = []
    for week, monday in weeks:
        for group in groups:
            if (week, group) not in incidents:
                continue
            figures = []
            for name, _ in WEEKLY_MEASURES:
                values = gaps.get((week, group, name), [])
                figures.append(WeekFigure(name, len(values), median(values)))
            series.append(
                WeekGroup(
                    week=week,
                    monday=monday,
                    group=group,
                    incidents=incidents[(week, group)],
                    figures=tuple(figures),
                    followups_opened=opened[(week, group)],
                    followups_done=done[(week, group)],
                )
            )
    return WeeklyStats(
        since=first,
        until=last,
        by=request.by,
        timezone=tz.key,
        weeks=tuple(week for week, _ in weeks),
        groups=tuple(groups),
        series=tuple(series),
        postmortems=postmortem_stats(session, since=request.start, until=request.until, tz=tz),
    )

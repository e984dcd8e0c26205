"""The weekly stats series as `GET /api/stats` answers it (and `warroom stats --json`)."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.times import format_duration
from bot.incidents.weekly_stats import WeekGroup, WeeklyStats
from bot.web.models import WeekFigureOut, WeekGroupOut, WeeklyOut


def _group(row: WeekGroup) -> WeekGroupOut:
    def seconds(value: timedelta | None) -> float | None:
        return value.total_seconds() if value is not None else None

    return WeekGroupOut(
        week=row.week,
        monday=row.monday,
        group=row.group,
        incidents=row.incidents,
        figures=[
            WeekFigureOut(
                name=figure.name,
                count=figure.count,
                median_seconds=seconds(figure.median),
                median=format_duration(figure.median) if figure.median is not None else None,
            )
            for figure in row.figures
        ],
        followups_opened=row.followups_opened,
        followups_done=row.followups_done,
        followup_completion=row.followup_completion,
    )


def weekly_out(section: WeeklyStats) -> WeeklyOut:
    """Every week of the window, the groups, and one entry per week and group."""
    return WeeklyOut(
        since=section.since,
        until=section.until,
        by=section.by,
        timezone=section.timezone,
        weeks=list(section.weeks),
        groups=list(section.groups),
        series=[_group(row) for row in section.series],
        # MERGE SLOT: the postmortem lifecycle's figures, once `section.postmortems` is read.
        postmortems=None,
    )

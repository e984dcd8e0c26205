"""The weekly stats series as `GET /api/stats` answers it (and `warroom stats --json`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.incidents.postmortem_stats import PostmortemFigures, PostmortemStats
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


def _figures(row: PostmortemFigures) -> dict[str, Any]:
    delay = row.median_to_publish
    return {
        "resolved": row.resolved,
        "due": row.due,
        "published": row.published,
        "completion": row.completion,
        "median_to_publish_seconds": delay.total_seconds() if delay is not None else None,
        "median_to_publish": format_duration(delay) if delay is not None else None,
    }


def _postmortems(stats: PostmortemStats | None) -> dict[str, Any] | None:
    """Postmortem completion over the window and by ISO week of resolve."""
    if stats is None:
        return None
    weeks = [{"week": row.week, **_figures(row)} for row in stats.weeks]
    return {"overall": _figures(stats.overall), "weeks": weeks}


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
        postmortems=_postmortems(section.postmortems),
    )

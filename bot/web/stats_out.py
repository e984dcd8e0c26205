"""The stats as `GET /api/stats` and `warroom stats --json` answer them, section by section:
each duration both in seconds and as `warroom stats` prints it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from bot.incidents.followup_stats import FollowupStats
from bot.incidents.postmortem_stats import PostmortemFigures, PostmortemStats
from bot.incidents.stats import METHOD, Figure, ResponseTimes, Stats, read_stats
from bot.incidents.times import format_duration
from bot.incidents.weekly_stats import WeekGroup, WeeklyStats
from bot.incidents.weekly_window import WeeklyRequest
from bot.web.models import (
    FigureOut,
    FollowupsOut,
    ResponseTimesOut,
    SeverityFollowupsOut,
    StatsOut,
    WeekFigureOut,
    WeekGroupOut,
    WeeklyOut,
)


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _shown(value: timedelta | None) -> str | None:
    return format_duration(value) if value is not None else None


def _figure(figure: Figure) -> FigureOut:
    return FigureOut(
        name=figure.name,
        count=figure.count,
        median_seconds=_seconds(figure.median),
        p90_seconds=_seconds(figure.p90),
        median=_shown(figure.median),
        p90=_shown(figure.p90),
    )


def _response_times(section: ResponseTimes) -> ResponseTimesOut:
    return ResponseTimesOut(
        incidents=section.incidents,
        figures=[_figure(figure) for figure in section.figures],
        on_cadence=section.on_cadence,
        method=METHOD,
    )


def _followups(section: FollowupStats) -> FollowupsOut:
    return FollowupsOut(
        today=section.today,
        severities=[
            SeverityFollowupsOut(
                severity=row.severity,
                opened=row.opened,
                done=row.done,
                overdue=row.overdue,
                median_to_close_seconds=_seconds(row.median_to_close),
                median_to_close=_shown(row.median_to_close),
            )
            for row in section.severities
        ],
    )


def _group(row: WeekGroup) -> WeekGroupOut:
    return WeekGroupOut(
        week=row.week,
        monday=row.monday,
        group=row.group,
        incidents=row.incidents,
        figures=[
            WeekFigureOut(
                name=figure.name,
                count=figure.count,
                median_seconds=_seconds(figure.median),
                median=_shown(figure.median),
            )
            for figure in row.figures
        ],
        followups_opened=row.followups_opened,
        followups_done=row.followups_done,
        followup_completion=row.followup_completion,
    )


def _postmortem_figures(row: PostmortemFigures) -> dict[str, Any]:
    return {
        "resolved": row.resolved,
        "due": row.due,
        "published": row.published,
        "completion": row.completion,
        "median_to_publish_seconds": _seconds(row.median_to_publish),
        "median_to_publish": _shown(row.median_to_publish),
    }


def _postmortems(stats: PostmortemStats | None) -> dict[str, Any] | None:
    """Postmortem completion over the window and by ISO week of resolve."""
    if stats is None:
        return None
    weeks = [{"week": row.week, **_postmortem_figures(row)} for row in stats.weeks]
    return {"overall": _postmortem_figures(stats.overall), "weeks": weeks}


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


def stats_out(read: Stats) -> StatsOut:
    """The figures `warroom stats` prints, section by section, as `GET /api/stats` and
    `warroom stats --json` answer them."""
    return StatsOut(
        response_times=_response_times(read.response_times),
        followups=_followups(read.followups),
        weekly=weekly_out(read.weekly) if read.weekly is not None else None,
    )


def stats(session: Session, *, today: date, weekly: WeeklyRequest | None = None) -> StatsOut:
    """Read the stats and answer them as `GET /api/stats` does."""
    return stats_out(read_stats(session, today=today, weekly=weekly))

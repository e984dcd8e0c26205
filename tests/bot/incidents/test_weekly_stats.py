"""The weekly series: per ISO week (in the team's zone) and group, median response times
and follow-ups done of opened, worked out by hand from `tests.support.weekly`."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.incidents.weekly_stats import NO_SERVICE, WeekGroup, weekly_stats, weeks_between
from bot.incidents.weekly_window import WeeklyRequest, parse_by, parse_since
from tests.support.weekly import HKT, NOW, seed


def _weekly(sessions, by: str = "severity", tz: ZoneInfo = HKT):
    with sessions() as session:
        return weekly_stats(
            session, WeeklyRequest(until=NOW, tz=tz, since=timedelta(weeks=2), by=by)
        )


def _row(stats, week: str, group: str) -> WeekGroup:
    return next(row for row in stats.series if (row.week, row.group) == (week, group))


def _medians(row: WeekGroup) -> list[timedelta | None]:
    return [figure.median for figure in row.figures]


def test_by_severity_gives_medians_counts_and_followups_per_week(engine, sessions) -> None:
    seed(engine)
    stats = _weekly(sessions)
    assert stats.weeks == ("2021-W08", "2021-W09", "2021-W10")
    assert (stats.since, stats.until) == (date(2021, 2, 26), date(2021, 3, 12))
    assert stats.groups == ("sev1", "sev2")
    assert [(row.week, row.group) for row in stats.series] == [
        ("2021-W09", "sev1"),
        ("2021-W10", "sev1"),
        ("2021-W10", "sev2"),
    ]
    w09 = _row(stats, "2021-W09", "sev1")
    assert w09.incidents == 2
    assert _medians(w09) == [timedelta(minutes=3), timedelta(minutes=25), timedelta(minutes=45)]
    assert [figure.count for figure in w09.figures] == [2, 2, 2]
    assert (w09.followups_done, w09.followups_opened) == (2, 3)
    assert w09.followup_completion == pytest.approx(2 / 3)
    sev2 = _row(stats, "2021-W10", "sev2")
    assert _medians(sev2) == [timedelta(minutes=10), None, None]
    assert [figure.count for figure in sev2.figures] == [1, 0, 0]
    assert (sev2.followups_done, sev2.followups_opened, sev2.followup_completion) == (0, 1, 0.0)
    assert _row(stats, "2021-W10", "sev1").followup_completion is None


def test_by_service_reads_the_alert_label_else_the_playbooks_service(engine, sessions) -> None:
    seed(engine)
    stats = _weekly(sessions, by="service")
    assert stats.groups == (NO_SERVICE, "api", "orders-db")
    assert _row(stats, "2021-W09", "api").incidents == 2
    assert _row(stats, "2021-W10", "orders-db").incidents == 1
    assert _row(stats, "2021-W10", NO_SERVICE).incidents == 1


def test_by_playbook(engine, sessions) -> None:
    seed(engine)
    stats = _weekly(sessions, by="playbook")
    assert stats.groups == ("database-failover", "default")
    assert _row(stats, "2021-W10", "default").incidents == 1


def test_weeks_follow_the_team_zone(engine, sessions) -> None:
    seed(engine)
    # Sunday 23:30 UTC is Monday in Hong Kong: in UTC that incident is in week 9.
    utc = _weekly(sessions, tz=ZoneInfo("UTC"))
    assert _row(utc, "2021-W09", "sev1").incidents == 3
    assert [row.group for row in utc.series if row.week == "2021-W10"] == ["sev2"]


def test_an_empty_window_lists_its_weeks_and_no_series(sessions) -> None:
    stats = _weekly(sessions)
    assert stats.weeks == ("2021-W08", "2021-W09", "2021-W10")
    assert (stats.groups, stats.series) == ((), ())


def test_weeks_cross_the_iso_year() -> None:
    assert [week for week, _ in weeks_between(date(2020, 12, 25), date(2021, 1, 5))] == [
        "2020-W52",
        "2020-W53",
        "2021-W01",
    ]


@pytest.mark.parametrize(
    ("text", "expected"), [("90d", timedelta(days=90)), ("12w", timedelta(weeks=12))]
)
def test_since_takes_days_or_weeks(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "90", "0d", "3m", "-5d", "1.5w", "d"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="positive number of days or weeks"):
        parse_since(text)


def test_by_refuses_an_unknown_grouping() -> None:
    with pytest.raises(ValueError, match="severity, service, playbook"):
        parse_by("team")

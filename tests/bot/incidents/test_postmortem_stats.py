"""Postmortem figures per ISO week of resolve and overall: due, published, completion rate,
median time from resolve to publish."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.incidents.postmortem_stats import postmortem_stats

# The reference clock: Wednesday 2021-03-10, 17:56 in Hong Kong (ISO week 2021-W10).
SINCE = datetime(2021, 3, 1, tzinfo=UTC)
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


def _declare(run, text: str) -> int:
    outcome = run(f"declare {text}")
    assert outcome.incident is not None and outcome.incident.id is not None
    return outcome.incident.id


def test_an_empty_window_has_no_weeks_and_no_rates(sessions) -> None:
    with sessions() as session:
        stats = postmortem_stats(session, since=SINCE, until=SINCE + timedelta(days=30))
    assert stats.weeks == []
    assert (stats.overall.resolved, stats.overall.completion) == (0, None)
    assert stats.overall.median_to_publish is None


def test_weeks_count_due_published_and_the_median_to_publish(run, sessions, clock) -> None:
    # Week 10: three resolved (and a drill, left out); two published, after 1h and 3h.
    first = _declare(run, "Matching engine down sev1")
    second = _declare(run, "Margin calls late sev2")
    third = _declare(run, "Slow charts sev3")
    drill = run("drill default").incident.id
    for incident_id in (first, second, third, drill):
        run("resolve", incident_id)
    clock.advance(timedelta(hours=1))
    run("postmortem publish", first)
    clock.advance(timedelta(hours=2))
    run("postmortem publish", second)
    run("postmortem publish", drill)
    # Week 11 (Monday 15th): one resolved, still a draft; week 12 has nothing.
    clock.set(datetime(2021, 3, 15, 2, 0, tzinfo=UTC))
    fourth = _declare(run, "Login errors sev2")
    run("resolve", fourth)
    # An incident still open counts nowhere.
    _declare(run, "Still burning sev1")

    until = datetime(2021, 3, 19, tzinfo=UTC)
    with sessions() as session:
        stats = postmortem_stats(session, since=SINCE, until=until)
    assert [(w.week, w.monday) for w in stats.weeks] == [
        ("2021-W10", date(2021, 3, 8)),
        ("2021-W11", date(2021, 3, 15)),
    ]
    w10, w11 = stats.weeks
    # Due by the 19th: sev1 (13th) and sev2 (17th), not the sev3 (24th).
    assert (w10.resolved, w10.due, w10.published) == (3, 2, 2)
    assert w10.completion == 2 / 3
    assert w10.median_to_publish == timedelta(hours=2)  # the middle of 1h and 3h
    # Resolved Monday 15th in Hong Kong: 5 business days later is the 22nd, not yet due.
    assert (w11.resolved, w11.due, w11.published, w11.completion) == (1, 0, 0, 0.0)
    assert w11.median_to_publish is None
    overall = stats.overall
    assert (overall.resolved, overall.due, overall.published) == (4, 2, 2)
    assert overall.completion == 0.5
    assert overall.median_to_publish == timedelta(hours=2)


def test_the_window_is_half_open(run, sessions, clock) -> None:
    incident_id = _declare(run, "Matching engine down sev1")
    run("resolve", incident_id)
    resolved_at = clock.now()
    with sessions() as session:
        before = postmortem_stats(session, since=SINCE, until=resolved_at)
        from_it = postmortem_stats(session, since=resolved_at, until=resolved_at + timedelta(1))
    assert before.overall.resolved == 0
    assert from_it.overall.resolved == 1


def test_incidents_resolved_at_different_times_of_one_week_share_its_row(
    run, sessions, clock
) -> None:
    for title in ("Matching engine down sev1", "Margin calls late sev2"):
        run("resolve", _declare(run, title))
        clock.advance(timedelta(hours=1, microseconds=1))
    with sessions() as session:
        stats = postmortem_stats(session, since=SINCE, until=datetime(2021, 3, 19, tzinfo=UTC))
    assert [(w.week, w.resolved) for w in stats.weeks] == [("2021-W10", 2)]


def test_weeks_are_the_teams_weeks_as_the_weekly_series_are(run, sessions, clock) -> None:
    # Sunday 14th 20:00 UTC is Monday 15th 04:00 in Hong Kong: week 11 there, week 10 in UTC.
    clock.set(datetime(2021, 3, 14, 20, 0, tzinfo=UTC))
    run("resolve", _declare(run, "Matching engine down sev1"))
    until = datetime(2021, 3, 19, tzinfo=UTC)
    with sessions() as session:
        local = postmortem_stats(session, since=SINCE, until=until, tz=HONG_KONG)
        utc = postmortem_stats(session, since=SINCE, until=until)
    assert [(w.week, w.monday, w.resolved) for w in local.weeks] == [
        ("2021-W11", date(2021, 3, 15), 1)
    ]
    assert [(w.week, w.resolved) for w in utc.weeks] == [("2021-W10", 1)]


def test_a_postmortem_is_due_by_the_teams_last_day_of_the_window(run, sessions, clock) -> None:
    # sev1: due 3 days after its resolve on Wednesday 10th (Hong Kong), the 13th.
    run("resolve", _declare(run, "Matching engine down sev1"))
    # 17:00 UTC on the 12th is already the 13th in Hong Kong: due there, not yet in UTC.
    until = datetime(2021, 3, 12, 17, 0, tzinfo=UTC)
    with sessions() as session:
        local = postmortem_stats(session, since=SINCE, until=until, tz=HONG_KONG)
        utc = postmortem_stats(session, since=SINCE, until=until)
    assert (local.overall.due, utc.overall.due) == (1, 0)

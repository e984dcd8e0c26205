"""Follow-up figures per severity: opened, done, overdue as of today, median time to close."""

from __future__ import annotations

from datetime import date, timedelta

from bot.incidents.followup_stats import SeverityFollowups, followup_stats

# The reference clock: Wednesday 2021-03-10, 17:56 in Hong Kong.


def _declare(run, text: str) -> int:
    outcome = run(f"declare {text}")
    assert outcome.incident is not None and outcome.incident.id is not None
    return outcome.incident.id


def test_an_empty_database_lists_every_severity_with_nothing(sessions) -> None:
    with sessions() as session:
        stats = followup_stats(session, today=date(2021, 3, 10))
    assert [row.severity for row in stats.severities] == ["sev1", "sev2", "sev3", "sev4"]
    assert stats.of("sev1") == SeverityFollowups("sev1", 0, 0, 0, None)


def test_counts_and_medians_per_severity(run, sessions, clock) -> None:
    sev1 = _declare(run, "Matching engine down sev1")
    sev2 = _declare(run, "Margin calls late sev2")
    drill = run("drill default").incident.id
    for n in range(1, 5):
        run(f"action sev1 follow-up {n}", sev1)
    run("action sev2 follow-up due 2021-03-11", sev2)
    run("action sev2 dropped one", sev2)
    run("action done in a drill", drill)
    # Closed after 1h, 2h and 4h: the median of three is the middle one, 2h.
    for hours, number in ((1, 1), (1, 2), (2, 3)):
        clock.advance(timedelta(hours=hours))
        run(f"action done {number}", sev1)
    run("action drop 2 not needed", sev2)
    run("action done 1", drill)

    with sessions() as session:
        stats = followup_stats(session, today=date(2021, 3, 20))

    # Follow-up 4 of the sev1 is due 2021-03-17, still open on the 20th: overdue.
    assert stats.of("sev1") == SeverityFollowups("sev1", 4, 3, 1, timedelta(hours=2))
    # The sev2's first is overdue too (due the 11th); the dropped one is neither.
    assert stats.of("sev2") == SeverityFollowups("sev2", 2, 0, 1, None)
    # The drill (a sev3 on the default playbook) counts nowhere.
    assert stats.of("sev3") == SeverityFollowups("sev3", 0, 0, 0, None)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(run, sessions, clock) -> None:
    sev1 = _declare(run, "Matching engine down sev1")
    for n in range(1, 5):
        run(f"action follow-up {n}", sev1)
    # Closed after 1h, 2h, 4h and 10h: the median is (2h + 4h) / 2 = 3h.
    for hours, number in ((1, 1), (1, 2), (2, 3), (6, 4)):
        clock.advance(timedelta(hours=hours))
        run(f"action done {number}", sev1)
    with sessions() as session:
        stats = followup_stats(session, today=date(2021, 3, 10))
    assert stats.of("sev1") == SeverityFollowups("sev1", 4, 4, 0, timedelta(hours=3))


def test_nothing_is_overdue_on_its_due_date(run, sessions) -> None:
    sev1 = _declare(run, "Matching engine down sev1")
    run("action due today due 2021-03-10", sev1)
    with sessions() as session:
        assert followup_stats(session, today=date(2021, 3, 10)).of("sev1").overdue == 0
        assert followup_stats(session, today=date(2021, 3, 11)).of("sev1").overdue == 1

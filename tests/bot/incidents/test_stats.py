"""`warroom stats`: medians and p90 over incidents, drills left out."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.stats import figures, percentile


def test_percentile_of_an_odd_count_is_the_middle_value() -> None:
    values = [timedelta(minutes=m) for m in (5, 1, 3, 2, 4)]
    assert percentile(values, 0.5) == timedelta(minutes=3)
    # Linear interpolation: position (5 - 1) * 0.9 = 3.6, between 4m and 5m.
    assert percentile(values, 0.9) == timedelta(minutes=4, seconds=36)
    assert percentile([], 0.5) is None


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    # Issue 21's own numbers: nearest rank said 1m17s.
    values = [timedelta(seconds=s) for s in (16, 77, 151, 640)]
    assert percentile(values, 0.5) == timedelta(minutes=1, seconds=54)
    # p90 by linear interpolation: position 3 * 0.9 = 2.7, 151s + 0.7 * (640s - 151s).
    assert percentile(values, 0.9) == timedelta(seconds=493.3)


def test_one_value_is_its_own_median_and_p90() -> None:
    assert percentile([timedelta(seconds=42)], 0.5) == timedelta(seconds=42)
    assert percentile([timedelta(seconds=42)], 0.9) == timedelta(seconds=42)


def test_figures_over_incidents_leave_drills_out(run, clock, sessions) -> None:
    for ack_after in (1, 3, 5):
        incident = run("declare Orders slow sev2").incident.id
        clock.advance(timedelta(minutes=ack_after))
        run("ack", incident)
        run("update looking into it", incident)
        clock.advance(timedelta(minutes=10))
        run("resolve fixed", incident)
    drill = run("drill trading-engine-outage").incident.id
    run("ack", drill)

    with sessions() as session:
        count, rows, cadence = figures(session)
    by_name = {row.name: row for row in rows}
    assert count == 3
    ack = by_name["time to acknowledge"]
    # p90 of 1, 3 and 5 minutes: position 2 * 0.9 = 1.8, 3m + 0.8 * 2m.
    assert (ack.count, ack.median, ack.p90) == (3, timedelta(minutes=3), timedelta(seconds=276))
    assert by_name["time to resolve"].median == timedelta(minutes=13)
    assert by_name["time to first update"].median == timedelta(minutes=3)
    assert cadence is not None and 0 < cadence <= 1


def test_no_incidents_still_lists_every_measure(sessions) -> None:
    with sessions() as session:
        count, rows, cadence = figures(session)
    assert count == 0 and cadence is None
    assert [row.name for row in rows][-1] == "time to first update"


def test_the_issues_acknowledgements_have_the_true_median(run, clock, sessions) -> None:
    for seconds in (640, 16, 151, 77):  # in no order: the figures sort them
        incident = run("declare Orders slow sev3").incident.id
        clock.advance(timedelta(seconds=seconds))
        run("ack", incident)
        clock.advance(timedelta(minutes=1))
    with sessions() as session:
        _, rows, _ = figures(session)
    ack = next(row for row in rows if row.name == "time to acknowledge")
    assert (ack.count, ack.median, ack.p90) == (
        4,
        timedelta(minutes=1, seconds=54),
        timedelta(seconds=493.3),
    )

"""`warroom stats`: medians and p90 over incidents, drills left out."""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.stats import figures, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [timedelta(minutes=m) for m in (5, 1, 3, 2, 4)]
    assert percentile(values, 0.5) == timedelta(minutes=3)
    assert percentile(values, 0.9) == timedelta(minutes=5)
    assert percentile([], 0.5) is None


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
    assert (ack.count, ack.median, ack.p90) == (3, timedelta(minutes=3), timedelta(minutes=5))
    assert by_name["time to resolve"].median == timedelta(minutes=13)
    assert by_name["time to first update"].median == timedelta(minutes=3)
    assert cadence is not None and 0 < cadence <= 1


def test_no_incidents_still_lists_every_measure(sessions) -> None:
    with sessions() as session:
        count, rows, cadence = figures(session)
    assert count == 0 and cadence is None
    assert [row.name for row in rows][-1] == "time to first update"

"""`warroom stats`: medians and p90 over incidents, drills left out."""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.incidents.errors import DomainError
from bot.incidents.reminders import status_update_cadence
from bot.incidents.stats import Figure, figures, percentile
from bot.incidents.times import elapsed
from storage.models import Incident, Milestone, TimelineEvent


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


def _reference(sessions) -> tuple[int, list[Figure], float | None]:
    """The figures as the first `warroom stats` computed them: every row in Python."""
    with sessions() as session:
        incidents = list(session.scalars(select(Incident).where(col(Incident.drill).is_(False))))
        marks: dict[int, dict[str, Milestone]] = {}
        for row in session.scalars(select(Milestone)):
            marks.setdefault(row.incident_id, {})[row.name] = row
        updates: dict[int, list[TimelineEvent]] = {}
        for event in session.scalars(
            select(TimelineEvent)
            .where(col(TimelineEvent.kind) == "update")
            .order_by(col(TimelineEvent.occurred_at))
        ):
            updates.setdefault(event.incident_id, []).append(event)
        result = []
        for name, milestone in (
            ("time to acknowledge", "acknowledged"),
            ("time to mitigate", "mitigated"),
            ("time to resolve", "resolved"),
        ):
            values = [
                elapsed(m["started"].at, m[milestone].at)
                for i in incidents
                if "started" in (m := marks.get(i.id or 0, {})) and milestone in m
            ]
            result.append(
                Figure(name, len(values), percentile(values, 0.5), percentile(values, 0.9))
            )
        firsts, kept, intervals = [], 0, 0
        for incident in incidents:
            m = marks.get(incident.id or 0, {})
            posted = updates.get(incident.id or 0, [])
            declared = m.get("declared")
            if posted and declared:
                firsts.append(elapsed(declared.at, posted[0].occurred_at))
            cadence = status_update_cadence(incident)
            if cadence is None or declared is None:
                continue
            end = [m["resolved"].at] if "resolved" in m else []
            times = [declared.at, *(e.occurred_at for e in posted), *end]
            for before, after in itertools.pairwise(times):
                intervals += 1
                kept += after - before <= cadence
        result.append(
            Figure(
                "time to first update",
                len(firsts),
                percentile(firsts, 0.5),
                percentile(firsts, 0.9),
            )
        )
        return len(incidents), result, (kept / intervals if intervals else None)


@pytest.mark.parametrize("seed", [1, 2])
def test_figures_match_a_row_by_row_count_of_the_same_incidents(
    run, clock, sessions, seed: int
) -> None:
    """Severities, playbooks with their own cadence, backdated milestones (an ack before
    the impact started counts as no time), microseconds, drills: the database's figures
    are exactly the ones a row-by-row count gives."""
    chance = random.Random(seed)
    playbooks = ["", " playbook:trading-engine-outage", " playbook:database-failover"]
    for n in range(24):
        severity = chance.choice(["sev1", "sev2", "sev3", "sev4"])
        verb = "drill trading-engine-outage" if n % 7 == 6 else None
        text = verb or f"declare Incident {n} {severity}{chance.choice(playbooks)}"
        incident = run(text).incident.id
        for _ in range(chance.randrange(6)):
            clock.advance(timedelta(seconds=chance.randrange(1, 3000), microseconds=n * 7919))
            action = chance.choice(["ack", "update still on it", "mitigate", "note hm"])
            with contextlib.suppress(DomainError):  # e.g. a second ack: refused
                run(action, incident)
        if chance.random() < 0.3:
            with contextlib.suppress(DomainError):
                run("time acknowledged 17:00", incident)  # before the impact started
        if chance.random() < 0.7:
            clock.advance(timedelta(minutes=chance.randrange(1, 90)))
            run("resolve fixed", incident)
        clock.advance(timedelta(hours=1))

    with sessions() as session:
        got = figures(session)
    assert got == _reference(sessions)
    count, rows, _ = got
    assert count == 24 - 3 and all(row.count > 0 for row in rows)


def test_times_a_microsecond_apart_keep_their_order(run, clock, sessions) -> None:
    # The larger of the two comes first by number: an order by whole seconds would put it
    # first and the p90 would lean to the smaller.
    for extra in (2, 1):
        incident = run("declare Orders slow sev2").incident.id
        clock.advance(timedelta(seconds=10, microseconds=extra))
        run("ack", incident)
        clock.advance(timedelta(seconds=50, microseconds=-extra))
    with sessions() as session:
        _, rows, _ = figures(session)
    ack = rows[0]
    # Position 1 * 0.9 between 10.000001 s and 10.000002 s: 10.0000019 s, to the microsecond.
    assert (ack.count, ack.p90) == (2, timedelta(seconds=10, microseconds=2))

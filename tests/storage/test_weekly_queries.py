"""The weekly series' rows: one narrow row per counted incident in the window, streamed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlmodel import col

from storage.models import Incident, Milestone
from storage.stats_queries import EPOCH
from storage.weekly_queries import incident_rows
from tests.support.weekly import NOW, Seeded, at, seed


def _micros(moment) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def test_rows_carry_keys_times_and_followups_and_stream_in_chunks(engine, sessions) -> None:
    seed(engine)
    with sessions() as session:
        since = NOW - timedelta(weeks=2)
        rows = list(incident_rows(session, since=since, until=NOW))
        chunked = list(incident_rows(session, since=since, until=NOW, chunk=2))

    assert chunked == rows
    # Oldest first; the drill and the incident before the window are left out.
    assert [(row.severity, row.service) for row in rows] == [
        ("sev1", "api"),
        ("sev1", "api"),
        ("sev1", None),
        ("sev2", "orders-db"),
    ]
    first = rows[0]
    started = _micros(at(1, "10:00"))
    assert (first.started, first.acknowledged, first.mitigated, first.resolved) == (
        started,
        started + 2 * 60_000_000,
        started + 20 * 60_000_000,
        started + 60 * 60_000_000,
    )
    assert (first.playbook, first.followups, first.followups_done) == ("default", 2, 1)
    assert (rows[3].playbook, rows[3].mitigated, rows[3].followups_done) == (
        "database-failover",
        None,
        0,
    )


def test_impact_start_falls_back_to_declaration_then_opening_whatever_the_other_times(
    engine, sessions
) -> None:
    # A: `started` backdated before the window, opened inside it: out. B: no `started`,
    # declared inside the window, opened before it: in, from its declaration. C: neither
    # milestone, opened inside: in, from its opening. D: opened and declared before the
    # window, impact started inside it: in.
    inside, before = NOW - timedelta(days=3), NOW - timedelta(weeks=5)
    seed(
        engine,
        tuple(Seeded("sev3", inside, {"acknowledged": n + 1}) for n in range(4)),
    )
    with engine.begin() as connection:
        ids = list(connection.scalars(select(col(Incident.id)).order_by(col(Incident.id))))
        a, b, c, d = ids

        def move(incident: int, name: str, moment) -> None:
            connection.execute(
                update(Milestone)
                .where(col(Milestone.incident_id) == incident, col(Milestone.name) == name)
                .values(at=moment)
            )

        def drop(incident: int, *names: str) -> None:
            connection.execute(
                delete(Milestone).where(
                    col(Milestone.incident_id) == incident, col(Milestone.name).in_(names)
                )
            )

        def opened(incident: int, moment) -> None:
            connection.execute(
                update(Incident).where(col(Incident.id) == incident).values(created_at=moment)
            )

        move(a, "started", before)
        drop(b, "started")
        move(b, "declared", inside + timedelta(hours=1))
        opened(b, before)
        drop(c, "started", "declared")
        opened(d, before)
        move(d, "declared", before)
    with sessions() as session:
        rows = list(incident_rows(session, since=NOW - timedelta(weeks=2), until=NOW))

    assert [row.started for row in rows] == [
        _micros(inside),
        _micros(inside),
        _micros(inside + timedelta(hours=1)),
    ]
    assert [row.acknowledged for row in rows] == [
        _micros(inside + timedelta(minutes=3)),
        _micros(inside + timedelta(minutes=4)),
        _micros(inside + timedelta(minutes=2)),
    ]

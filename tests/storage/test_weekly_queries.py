"""The weekly series' rows: one narrow row per counted incident in the window, streamed."""

from __future__ import annotations

from datetime import timedelta

from storage.stats_queries import EPOCH
from storage.weekly_queries import incident_rows
from tests.support.weekly import NOW, at, seed


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

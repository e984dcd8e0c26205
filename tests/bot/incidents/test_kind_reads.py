"""Reads of the timeline by kind say `kind <> 'alert'` themselves, so `ix_timeline_kind`
(which leaves the alerts' entries out, 0024) serves them: on SQLite every one of them is
planned on it, a storm's incident of thousands of alert entries notwithstanding."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlmodel import col

from bot.incidents import reminders
from bot.incidents.stats import read_stats
from bot.postmortem.figure_data import gather
from storage.models import TimelineEvent
from storage.timeline_kinds import of_kind
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import reference_alert

# A filter on an entry's kind (`timeline_events.kind = ?`, an alias's, or `kind IN (...)`),
# after the WHERE: the columns a read shows may test the kind too (`CASE WHEN kind IN`).
_BY_KIND = re.compile(r"\bkind (=|IN) ")


def _reads_by_kind(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    found = []
    for sql, parameters in statements:
        _, where, filters = sql.partition("WHERE")
        if "timeline_events" in sql and where and _BY_KIND.search(filters):
            found.append((sql, parameters))
    return found


def test_every_read_by_kind_states_the_index_condition_and_is_served_by_the_index(
    run, ingest, sessions, domain, clock
) -> None:
    for number in range(40):  # an alert-opened incident of 40 alert entries
        ingest(reference_alert(fingerprint=f"f{number}"))
    incident_id = run("declare Spot trading errors sev2").incident.id
    clock.advance(timedelta(minutes=10))
    run("update Failover to the standby matching engine started", incident_id)
    clock.advance(timedelta(minutes=5))
    run("update Failover done, order entry reopened", incident_id)
    run("note checking the gateways", incident_id)
    clock.advance(timedelta(minutes=20))

    engine = sessions.kw["bind"]
    statements: list[tuple[str, Any]] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        run("catchup", incident_id)
        run("timeline", incident_id)
        with unit_of_work(sessions) as uow:
            reminders.status_update_due(uow, domain, incident_id)
        run("resolve failed over", incident_id)
        with sessions() as session:
            gather(session, incident_id)
            read_stats(session, today=clock.now().date())
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    reads = _reads_by_kind(statements)
    # The catch-up's last update, the reminder's, the figure's updates, the stats' first
    # update and cadence: each read is here.
    assert len(reads) >= 5, [sql for sql, _ in reads]
    for sql, _ in reads:
        assert "kind != 'alert'" in sql, sql
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        for sql, parameters in reads:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).all()
            assert "ix_timeline_kind" in " | ".join(row[-1] for row in plan), sql


def test_of_kind_finds_entries_of_any_kind_the_alerts_included(run, ingest, sessions) -> None:
    for number in range(3):  # one alert-opened incident, three alert entries
        ingest(reference_alert(fingerprint=f"f{number}"))
    incident_id = run("declare Spot trading errors sev2").incident.id
    run("update Failover started", incident_id)
    run("note checking the gateways", incident_id)
    kind = col(TimelineEvent.kind)

    def count(*kinds: str) -> int:
        with sessions() as session:
            query = select(func.count()).select_from(TimelineEvent).where(of_kind(kind, *kinds))
            return int(session.scalar(query) or 0)

    assert count("alert") == 3
    assert count("update") == 1
    assert count("update", "note") == 2
    assert count("update", "alert") == 4  # the index's condition is left out: it would hide them

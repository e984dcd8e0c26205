"""Migration 0021: the stats' indexes on incidents, added to a populated database (the
figures the same before and after, drills still left out) and removed by a downgrade."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Engine, event

from bot.incidents.stats import percentile, response_times
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.stats_queries import cadence_settings
from tests.bot.incidents.test_stats_cadence import EDGES, MINUTE, _incident, _reference
from tests.storage.test_read_indexes import indexes, named_indexes

STATS_INDEXES = {
    "ix_incidents_counted": ["drill", "id", "severity"],
    "ix_incidents_resolved": ["drill", "resolved_at", "status"],
}


def _indexes(engine: Engine) -> dict[str, list[str]]:
    return indexes(engine, "incidents")


def test_a_populated_database_upgraded_to_0021_gives_the_domains_stats(engine, sessions) -> None:
    command.downgrade(alembic_config(engine), "0020")
    assert not set(STATS_INDEXES) & set(_indexes(engine))
    # Incidents stored before 0021, each resolved at its own time (drills among them).
    specs = [
        {**spec, "resolved": spec.get("resolved", (70 + n) * MINUTE)}
        for n, spec in enumerate(EDGES)
    ]
    for spec in specs:
        _incident(engine, **spec)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    made = _indexes(engine)
    assert {name: made.get(name) for name in STATS_INDEXES} == STATS_INDEXES
    with sessions() as session:
        section = response_times(session)
    counted = [spec for spec in specs if not spec.get("drill")]
    assert section.incidents == len(counted)
    to_resolve = section.figures[2]  # from impact start (START) to the resolve
    assert to_resolve.count == len(counted)
    assert to_resolve.median == percentile([spec["resolved"] for spec in counted], 0.5)
    assert to_resolve.p90 == percentile([spec["resolved"] for spec in counted], 0.9)
    intervals, kept = _reference(engine, specs)
    assert section.on_cadence == kept / intervals


def test_0021_downgrades_to_0020_and_upgrades_again(engine) -> None:
    command.downgrade(alembic_config(engine), "0020")
    assert current_revision(engine) == "0020"
    assert not {*STATS_INDEXES, "ix_incidents_cadence"} & named_indexes(engine, "incidents")
    upgrade(engine)
    made = _indexes(engine)
    assert {name: made.get(name) for name in STATS_INDEXES} == STATS_INDEXES
    assert "ix_incidents_cadence" in named_indexes(engine, "incidents")


def test_the_cadence_settings_are_read_from_the_cadence_index(engine, sessions) -> None:
    for spec in EDGES:
        _incident(engine, **spec)
    statements: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with sessions() as session:
            found = cadence_settings(session)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    written = {(spec["severity"], spec.get("written")) for spec in EDGES if not spec.get("drill")}
    # As the snapshot has it, as text: a number written as a number is its digits.
    assert sorted(found, key=repr) == sorted(
        {(level, None if text is None else str(text)) for level, text in written}, key=repr
    )
    cadence_reads = [(sql, params) for sql, params in statements if "status_update" in sql]
    assert cadence_reads
    # Each seek of a written cadence matches the index's expression (a path spelled another
    # way would use the index for the severity only and read every snapshot of it).
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        for sql, params in cadence_reads:
            if engine.dialect.name == "sqlite":
                rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = " | ".join(row[-1] for row in rows)
                assert "ix_incidents_cadence (drill=? AND severity=? AND <expr>" in plan, plan
            else:
                raw.execute("SET enable_seqscan = off")  # an empty table: the index if it can
                plan = " | ".join(row[0] for row in raw.execute(f"EXPLAIN {sql}", params))
                conditions = plan[plan.index("ix_incidents_cadence") :]
                assert "Index Cond" in conditions and "status_update" in conditions, plan

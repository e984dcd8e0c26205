"""Migration 0021: the stats' indexes on incidents, added to a populated database (the
figures the same before and after, drills still left out) and removed by a downgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from bot.incidents.stats import percentile, response_times
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from tests.bot.incidents.test_stats_cadence import EDGES, MINUTE, _incident, _reference

STATS_INDEXES = {
    "ix_incidents_counted": ["drill", "id", "severity"],
    "ix_incidents_resolved": ["drill", "resolved_at", "status"],
}


def _indexes(engine: Engine) -> dict[str, list[str]]:
    return {
        index["name"]: list(index["column_names"])
        for index in inspect(engine).get_indexes("incidents")
        if index["name"]
    }


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
    assert not set(STATS_INDEXES) & set(_indexes(engine))
    upgrade(engine)
    made = _indexes(engine)
    assert {name: made.get(name) for name in STATS_INDEXES} == STATS_INDEXES

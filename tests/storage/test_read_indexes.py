"""Migration 0017: the read indexes the models declare, made and undone by Alembic, and
used by the list's and the timeline's queries."""

from __future__ import annotations

import warnings

from alembic import command
from sqlalchemy import Column, Engine, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SAWarning

from bot.usecases.queries import EntryPosition, IncidentFilter, Position
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import SQLModel

READ_INDEXES = {
    "ix_incidents_opened": ("incidents", ["created_at", "id"]),
    "ix_incidents_status_opened": ("incidents", ["status", "created_at", "id"]),
    "ix_incidents_severity_opened": ("incidents", ["severity", "created_at", "id"]),
    "ix_incidents_playbook_opened": ("incidents", ["playbook_id", "created_at", "id"]),
    "ix_timeline_kind": ("timeline_events", ["kind", "incident_id", "occurred_at"]),
    "ix_milestones_name": ("milestones", ["name", "incident_id", "at"]),
}


def indexes(engine: Engine, table: str) -> dict[str, list[str]]:
    """The table's indexes on columns in the database: name -> columns."""
    with warnings.catch_warnings():
        # SQLite's reflection skips an index on an expression, saying so: named_indexes.
        warnings.simplefilter("ignore", SAWarning)
        found = inspect(engine).get_indexes(table)
    return {index["name"]: list(index["column_names"]) for index in found if index["name"]}


def named_indexes(engine: Engine, table: str) -> set[str]:
    """The names of every index of the table in the database, on expressions too."""
    if engine.dialect.name == "sqlite":
        query = text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
    else:
        # This test's own schema only: tests running beside it have tables of the same name.
        query = text(
            "SELECT indexname FROM pg_indexes WHERE tablename = :t"
            " AND schemaname = current_schema()"
        )
    with engine.connect() as connection:
        return set(connection.scalars(query, {"t": table}))


def test_every_index_the_models_declare_is_what_the_migrations_made(engine: Engine) -> None:
    for table in SQLModel.metadata.sorted_tables:
        made, names = indexes(engine, table.name), named_indexes(engine, table.name)
        for index in table.indexes:
            assert index.name in names, f"{table.name}: no {index.name} in the migrated schema"
            if all(isinstance(part, Column) for part in index.expressions):
                assert made[index.name] == [c.name for c in index.columns], index.name
    declared = {
        index.name for table in SQLModel.metadata.tables.values() for index in table.indexes
    }
    assert set(READ_INDEXES) <= declared


def test_0017_downgrades_to_0016_and_upgrades_again(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    command.downgrade(alembic_config(engine), "0016")
    assert current_revision(engine) == "0016"
    for name, (table, _) in READ_INDEXES.items():
        assert name not in indexes(engine, table)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    for name, (table, columns) in READ_INDEXES.items():
        assert indexes(engine, table)[name] == columns


def plan(engine: Engine, statement) -> str:
    """SQLite's query plan for a statement, its lines joined."""
    compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(row[-1] for row in rows)


def test_sqlite_seeks_each_page_by_index_and_never_sorts(tmp_path) -> None:
    from datetime import UTC, datetime

    from bot.usecases import queries
    from storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade(engine)
    at = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    pages = {
        "ix_incidents_opened": queries.list_query(IncidentFilter(), Position(at, 7)),
        "ix_incidents_status_opened": queries.list_query(IncidentFilter(status="resolved"), None),
        "ix_incidents_severity_opened": queries.list_query(IncidentFilter(severity="sev1"), None),
        "ix_incidents_playbook_opened": queries.list_query(IncidentFilter(playbook="x"), None),
        "ix_timeline_incident_occurred": queries.timeline_query(1, EntryPosition(at, 7)),
    }
    for index, statement in pages.items():
        shown = plan(engine, statement.limit(100))
        assert index in shown, shown
        assert "TEMP B-TREE" not in shown, shown
    engine.dispose()

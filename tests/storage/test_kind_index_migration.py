"""Migration 0024: `ix_timeline_kind` leaves the alerts' entries out, on both databases, and
the downgrade puts every entry back in it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from bot.incidents.ingest import ingest_alert
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import reference_alert


def _definition(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'ix_timeline_kind'"
    else:
        query = (
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_timeline_kind'"
            " AND schemaname = current_schema()"
        )
    with engine.connect() as connection:
        return str(connection.execute(text(query)).scalar_one())


def test_0024_leaves_the_alert_entries_out_and_downgrades_to_0023(engine, sessions, domain) -> None:
    for number in range(3):
        with unit_of_work(sessions) as uow:
            ingest_alert(uow, domain, reference_alert(fingerprint=f"f{number}"))
    assert current_revision(engine) == head_revision()
    where = _definition(engine).replace("(", "").replace(")", "").replace("::text", "")
    assert where.endswith("WHERE kind <> 'alert'"), where

    command.downgrade(alembic_config(engine), "0023")
    assert "WHERE" not in _definition(engine)

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "WHERE" in _definition(engine)

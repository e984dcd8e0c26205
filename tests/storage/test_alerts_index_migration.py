"""Migration 0023: `ix_alerts_incident_id` dropped (the identity index leads with the
incident), and an incident's alerts still read in the order they arrived."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from bot.incidents.ingest import ingest_alert
from bot.incidents.snapshot import snapshot
from bot.usecases.queries import incident_record
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.unit_of_work import unit_of_work
from tests.bot.incidents.conftest import reference_alert
from tests.storage.test_read_indexes import indexes

DROPPED = "ix_alerts_incident_id"


def _alerts_indexes(engine: Engine) -> dict[str, list[str]]:
    return indexes(engine, "alerts")


def _ingest_backwards(sessions, domain, count: int) -> int:
    """`count` alerts of one group whose fingerprints sort opposite to their arrival."""
    incident_id = 0
    for n in range(count):
        alert = reference_alert(
            fingerprint=f"{count - n:04d}", url=f"https://grafana.example/d/{n}"
        )
        with unit_of_work(sessions) as uow:
            result = ingest_alert(uow, domain, alert)
        assert result.incident_id is not None
        incident_id = result.incident_id
    return incident_id


def test_the_identity_index_serves_the_incident_and_the_second_one_is_gone(engine) -> None:
    assert current_revision(engine) == head_revision()
    assert DROPPED not in _alerts_indexes(engine)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # The identity is the table's own UNIQUE constraint: SQLite's automatic index.
            rows = connection.exec_driver_sql(
                "SELECT name FROM pragma_index_list('alerts') WHERE \"unique\" = 1"
            ).scalars()
            columns = [
                connection.exec_driver_sql(
                    f"SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
                )
                .scalars()
                .all()
                for name in rows
            ]
        else:
            found = inspect(engine).get_unique_constraints("alerts")
            columns = [list(constraint["column_names"]) for constraint in found]
    assert ["incident_id", "source", "fingerprint"] in columns


def test_0023_downgrades_to_0022_and_upgrades_again(engine) -> None:
    command.downgrade(alembic_config(engine), "0022")
    assert current_revision(engine) == "0022"
    assert _alerts_indexes(engine)[DROPPED] == ["incident_id"]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert DROPPED not in _alerts_indexes(engine)


def test_an_incidents_alerts_read_in_arrival_order_not_fingerprint_order(sessions, domain) -> None:
    incident_id = _ingest_backwards(sessions, domain, 7)
    with sessions() as session:
        record = incident_record(session, incident_id)
        found = snapshot(session, incident_id)
    assert record is not None and found is not None
    # The detail API's alerts and the card's links: first come, first listed.
    assert [alert.fingerprint for alert in record.alerts] == [f"{7 - n:04d}" for n in range(7)]
    assert found.alert_links[:3] == tuple(f"https://grafana.example/d/{n}" for n in range(3))

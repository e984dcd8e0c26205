"""A 202 survives a power cut: every connection the service writes on syncs at commit."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, text

from storage.db import is_sqlite, make_engine
from tests.e2e.conftest import Service

ALERT = {
    "version": "4",
    "groupKey": '{}/{durability="test"}',
    "status": "firing",
    "commonLabels": {"alertname": "DiskFull", "service": "db"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "service": "db"},
            "annotations": {"summary": "Disk full on db-1"},
            "fingerprint": "durability-1",
        }
    ],
}
# SQLite's `PRAGMA synchronous`: 2 is FULL (the WAL is fsynced at every commit); 1, NORMAL,
# syncs only at checkpoints, so a power cut can roll back commits already acknowledged.
FULL = 2


def synced_at_commit(engine: Engine) -> bool:
    """Whether a connection this engine hands out makes each commit durable before it returns."""
    with engine.connect() as connection:
        if is_sqlite(str(engine.url)):
            return connection.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
        # PostgreSQL: `on` (the default, which warroom never changes) waits for the WAL
        # flush; `off`, `local` or `remote_write` on a standby could lose a commit.
        return connection.execute(text("SHOW synchronous_commit")).scalar() == "on"


def test_a_fresh_sqlite_engine_syncs_every_commit(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert synced_at_commit(engine)
    finally:
        engine.dispose()


def test_the_served_service_syncs_every_commit_it_acknowledges(service: Service) -> None:
    answer = httpx.post(f"{service.url}/alerts/alertmanager", json=ALERT, headers=service.auth)
    assert answer.status_code == 202, answer.text
    # The very engines the alert route and single-statement writes commit on.
    assert synced_at_commit(service.runtime.engine)
    if service.runtime.statement_engine is not None:
        assert synced_at_commit(service.runtime.statement_engine)
    with service.runtime.sessions() as session:
        connection = session.connection()
        if is_sqlite(service.runtime.settings.database_url):
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
        else:
            assert connection.execute(text("SHOW synchronous_commit")).scalar() == "on"

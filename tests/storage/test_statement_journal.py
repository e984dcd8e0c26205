"""A transaction's statement journal stays in memory on SQLite: a storm's batch writes no
temporary file (it spilled one to /var/tmp, created and deleted at every commit)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, func, select

from bot.incidents.alerts import NormalizedAlert
from bot.incidents.ingest import ingest_alerts
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Alert
from storage.unit_of_work import unit_of_work

GROUPS = 20


def _temporary_files() -> list[str]:
    """SQLite's temporary files this process holds open (deleted on open: /proc shows them)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


def _alert(number: int) -> NormalizedAlert:
    group = number % GROUPS
    return NormalizedAlert(
        source="alertmanager",
        fingerprint=f"{group:02d}{number:014x}",
        title=f"Storm group {group:02d} is firing",
        labels={"alertname": f"Storm{group:02d}", "instance": f"host-{number:05d}:9100"},
        annotations={"summary": f"Storm group {group:02d}", "description": f"instance {number}"},
        starts_at=datetime(2021, 3, 10, 9, 56, tzinfo=UTC),
        group_key=f"storm-{group:02d}",
    )


def test_a_storm_batch_keeps_its_statement_journal_off_the_disk(tmp_path: Path, domain) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'warroom.db'}")
    held: list[str] = []
    # Looked for as the batch commits: SQLite closes the file after the commit.
    event.listen(engine, "commit", lambda _connection: held.extend(_temporary_files()))
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        # The storm's shape: 20 open incidents, then batches of 14 alerts across them.
        for first in range(0, 2000, 14):
            with unit_of_work(sessions) as uow:
                ingest_alerts(uow, domain, [_alert(n) for n in range(first, first + 14)])
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Alert)) == 2002
        assert held == []
    finally:
        engine.dispose()

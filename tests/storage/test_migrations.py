"""`warroom db upgrade`: creates the schema on an empty database, and is idempotent."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import current_revision, head_revision, upgrade

TABLES = {
    "incidents",
    "milestones",
    "timeline_events",
    "alerts",
    "role_assignments",
    "followups",
    "outbox",
    "deliveries",
    "people",
    "maintenances",
    "paged_incidents",
    "catchups_sent",
    "apscheduler_jobs",  # APScheduler's job store, created by the release step too
}


def test_upgrade_creates_every_table_and_twice_changes_nothing(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    schema_once = {t: inspect(engine).get_columns(t) for t in TABLES}
    upgrade(engine)
    schema_twice = {t: inspect(engine).get_columns(t) for t in TABLES}
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert [str(c) for c in schema_once.values()] == [str(c) for c in schema_twice.values()]
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


@pytest.mark.parametrize("times", [1, 2])
def test_cli_db_upgrade(tmp_path, times: int) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for _ in range(times):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"],
            env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    assert f"at revision {head_revision()}" in done.stdout
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_partial_unique_index_allows_one_open_incident_per_group(engine, sessions) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from storage.models import Incident

    now = datetime(2021, 3, 10, tzinfo=UTC)

    def incident(status: str) -> Incident:
        return Incident(
            title="t",
            severity="sev1",
            status=status,
            playbook_id="default",
            grouping_key="g1",
            created_at=now,
            updated_at=now,
        )

    with sessions() as session:
        session.add_all([incident("resolved"), incident("resolved"), incident("investigating")])
        session.commit()
        session.add(incident("identified"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()


def test_a_job_table_apscheduler_made_itself_is_kept_by_the_upgrade(tmp_path) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    upgrade(engine, "0005")
    # Before 0006, APScheduler created its table at the first start and stored jobs in it.
    SQLAlchemyJobStore(engine=engine).jobs_t.create(engine)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES ('j', 1, 'x')")
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == ["j"]
    engine.dispose()


def test_alerts_stored_before_0013_are_named_by_their_alertname_else_their_title(
    tmp_path,
) -> None:
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'named.db'}")
    upgrade(engine, "0010")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (id, title, severity, status, playbook_id, "
                "playbook_snapshot, playbook_state, drill, external, created_at, updated_at) "
                "VALUES (1, 't', 'sev1', 'investigating', 'default', '{}', '{}', 0, '{}', "
                "'2021-03-10 09:56:00', '2021-03-10 09:56:00')"
            )
        )
        for n, (title, labels) in enumerate(
            [
                ("API error 30030", '{"alertname": "MatchingEngineErrors"}'),
                ("Margin liquidation queue stalled", '{"service": "margin-engine"}'),
            ]
        ):
            connection.execute(
                text(
                    "INSERT INTO alerts (incident_id, source, fingerprint, title, status, "
                    "labels, annotations, first_seen_at, last_seen_at, seen_count) VALUES "
                    "(1, 'x', :fp, :title, 'firing', :labels, '{}', '2021-03-10 09:56:00', "
                    "'2021-03-10 09:56:00', 1)"
                ),
                {"fp": f"f{n}", "title": title, "labels": labels},
            )
    upgrade(engine)
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM alerts ORDER BY id")).scalars().all()
    assert names == ["MatchingEngineErrors", "Margin liquidation queue stalled"]
    engine.dispose()


def test_incidents_stored_before_0015_keep_the_page_they_were_given(tmp_path) -> None:
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'paged.db'}")
    upgrade(engine, "0013")
    rows = [
        (1, "sev1", "investigating", 0),  # paged at opening, still open
        (2, "sev2", "resolved", 0),  # paged, and resolved with it
        (3, "sev3", "investigating", 0),  # never paged
        (4, "sev1", "investigating", 1),  # a drill never pages
    ]
    with engine.begin() as connection:
        for id_, severity, status, drill in rows:
            connection.execute(
                text(
                    "INSERT INTO incidents (id, title, severity, status, playbook_id, "
                    "playbook_snapshot, playbook_state, drill, external, created_at, "
                    "updated_at) VALUES (:id, 't', :severity, :status, 'default', '{}', '{}', "
                    ":drill, '{}', '2021-03-10 09:56:00', '2021-03-10 09:56:00')"
                ),
                {"id": id_, "severity": severity, "status": status, "drill": drill},
            )
        connection.execute(
            text(
                "INSERT INTO milestones (incident_id, name, at, source, history) "
                "VALUES (1, 'started', '2021-03-10 09:56:00', 'alert', '[]')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        pages = connection.execute(
            text("SELECT id, pages, page_open FROM incidents ORDER BY id")
        ).all()
    assert [tuple(row) for row in pages] == [(1, 1, 1), (2, 1, 0), (3, 0, 0), (4, 0, 0)]
    engine.dispose()


def test_incidents_stored_before_0014_are_public_with_no_public_title(tmp_path) -> None:
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'private.db'}")
    upgrade(engine, "0013")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (id, title, severity, status, playbook_id, "
                "playbook_snapshot, playbook_state, drill, external, created_at, updated_at) "
                "VALUES (1, 't', 'sev1', 'investigating', 'default', '{}', '{}', 0, '{}', "
                "'2021-03-10 09:56:00', '2021-03-10 09:56:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO maintenances (id, title, starts_at, ends_at, created_at) VALUES "
                "(1, 'm', '2021-03-11 02:00:00', '2021-03-11 04:00:00', '2021-03-10 09:56:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        incident = connection.execute(text("SELECT private, public_title FROM incidents")).one()
        refs = connection.execute(text("SELECT external FROM maintenances")).scalar_one()
    assert tuple(incident) == (0, None)
    assert refs == "{}"
    engine.dispose()

"""`read_connection` and `read_session`: reads that wait for no writer, see what is committed
and nothing else, and on SQLite cannot write."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from storage.db import make_engine, make_sessionmaker, transaction
from storage.migrate import upgrade
from storage.models import Incident
from storage.reads import read_connection, read_session, timeline_page_json

AT = datetime(2021, 3, 10, 10, 0, tzinfo=UTC)


def opened(session: Session, title: str) -> int:
    row = Incident(
        title=title, severity="sev1", playbook_id="generic", created_at=AT, updated_at=AT
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def titles(engine: Engine) -> list[str]:
    with read_connection(engine) as connection:
        return list(connection.execute(text("SELECT title FROM incidents ORDER BY id")).scalars())


def test_a_read_beside_an_open_write_sees_what_was_committed(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        opened(session, "committed")

    # The writer holds SQLite's write lock (and the engine's writer lock) meanwhile: the
    # read, in the same thread, neither waits for it nor sees its rows.
    with transaction(sessions) as session:
        opened(session, "not yet committed")
        session.flush()
        assert titles(engine) == ["committed"]

    assert titles(engine) == ["committed", "not yet committed"]


def test_a_page_of_an_incident_with_no_entries_is_empty(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        incident_id = opened(session, "quiet")

    with read_connection(engine) as connection:
        page = timeline_page_json(
            connection=connection, incident_id=incident_id, limit=10, after=None
        )
        missing = timeline_page_json(connection=connection, incident_id=999, limit=10, after=None)

    assert page is not None and page.items == "" and page.last is None
    assert missing is None


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_sqlite_reader_cannot_write_and_goes_with_its_engine(engine: Engine) -> None:
    with read_connection(engine) as connection, pytest.raises(OperationalError, match="readonly"):
        connection.execute(text("DELETE FROM incidents"))

    engine.dispose()  # the reader's connections go too, and come back on demand
    assert titles(engine) == []


def test_an_in_memory_database_is_read_on_its_one_connection() -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            opened(session, "in memory")
        assert titles(engine) == ["in memory"]
    finally:
        engine.dispose()


def test_a_read_session_lets_a_writer_commit_and_keeps_its_own_snapshot(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        opened(session, "before the read")

    def write() -> None:
        with transaction(sessions) as session:
            opened(session, "during the read")

    with read_session(sessions) as session:
        seen = session.scalars(select(Incident.title)).all()
        # Another thread's writer commits while the read is open: it waits for nothing
        # (a transaction of the read's own would hold SQLite's write lock until it ends).
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive(), "the writer waited for the read"
        again = session.scalars(select(Incident.title)).all()
    assert seen == again == ["before the read"]  # one snapshot for the whole read
    with read_session(sessions) as session:
        assert session.scalars(select(Incident.title)).all() == [
            "before the read",
            "during the read",
        ]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_read_session_on_sqlite_cannot_write(sessions: sessionmaker[Session]) -> None:
    with read_session(sessions) as session, pytest.raises(OperationalError, match="readonly"):
        opened(session, "written by a read")
    with read_session(sessions) as session:
        assert session.scalars(select(Incident.title)).all() == []


def test_what_a_read_session_loaded_stays_usable_after_it(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        incident_id = opened(session, "Matching engine down")
    with read_session(sessions) as session:
        incident = session.get(Incident, incident_id)
    # Publishing a postmortem reads the incident this way and names it afterwards.
    assert incident is not None and incident.title == "Matching engine down"

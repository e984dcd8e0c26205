"""A unit of work's rows: written in order at its flush, kept at commit, taken back with a
savepoint that rolls back, refused as one when a key is taken."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from storage.models import Incident, TimelineEvent
from storage.unit_of_work import Rows, UnitOfWork, connected_unit_of_work, unit_of_work
from tests.storage.helpers import NOW, stored_incident

EVENTS = TimelineEvent.__table__


def _entry(rows: Rows, incident_id: int, text: str, key: str | None = None) -> dict:
    return rows.add(
        EVENTS,
        {
            "incident_id": incident_id,
            "occurred_at": NOW,
            "recorded_at": NOW,
            "kind": "note",
            "actor": "U1",
            "text": text,
            "data": {},
            "source": "command",
            "idempotency_key": key,
        },
    )


def _texts(uow: UnitOfWork) -> list[str]:
    query = select(TimelineEvent.text).order_by(TimelineEvent.id)
    return list(uow.session.scalars(query))


def test_rows_wait_for_the_flush_and_go_in_in_the_order_their_writers_were_made(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        first = uow.rows()
        row = _entry(first, incident, "draft")
        second = uow.rows()
        _entry(second, incident, "second")
        row["text"] = "first"  # still the writer's own until the flush: changes go in
        assert _texts(uow) == []  # nothing is written behind the caller's back
        uow.flush()
        assert _texts(uow) == ["first", "second"]
        assert first.closed and second.closed
        third = uow.rows()
        _entry(third, incident, "third")
    with unit_of_work(sessions) as uow:  # the commit flushed what was left
        assert _texts(uow) == ["first", "second", "third"]


def test_a_rolled_back_unit_of_work_writes_nothing_and_a_closed_writer_takes_no_more(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with pytest.raises(RuntimeError, match="lost"), unit_of_work(sessions) as uow:
        rows = uow.rows()
        _entry(rows, incident, "lost")
        rows.close()
        with pytest.raises(RuntimeError, match="handed over"):
            _entry(rows, incident, "late")
        raise RuntimeError("lost")
    with unit_of_work(sessions) as uow:
        assert _texts(uow) == []


def test_a_savepoint_rolled_back_takes_back_only_what_was_added_inside_it(sessions) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        _entry(uow.rows(), incident, "before")
        with pytest.raises(RuntimeError), uow.savepoint():
            assert _texts(uow) == ["before"]  # written before the savepoint began
            _entry(uow.rows(), incident, "inside")
            uow.flush()
            assert _texts(uow) == ["before", "inside"]
            raise RuntimeError("refused")
        assert _texts(uow) == ["before"]
        with uow.savepoint():
            _entry(uow.rows(), incident, "kept")
    with unit_of_work(sessions) as uow:
        assert _texts(uow) == ["before", "kept"]


def test_a_taken_key_fails_the_savepoint_and_keeps_what_came_before(sessions) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        _entry(uow.rows(), incident, "taken", key="T1")
    with unit_of_work(sessions) as uow:
        _entry(uow.rows(), incident, "before")
        with pytest.raises(IntegrityError), uow.savepoint():
            _entry(uow.rows(), incident, "twin", key="T1")  # a twin delivery got there first
    with unit_of_work(sessions) as uow:
        assert _texts(uow) == ["taken", "before"]


def test_flush_refuses_a_key_already_recorded(sessions) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        _entry(uow.rows(), incident, "first", key="T1")
    with pytest.raises(IntegrityError), unit_of_work(sessions) as uow:
        _entry(uow.rows(), incident, "again", key="T1")
        uow.flush()
    with unit_of_work(sessions) as uow:
        assert _texts(uow) == ["first"]


def test_an_incident_is_loaded_once_per_unit_of_work_and_found_by_its_channel(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with unit_of_work(sessions) as uow:
        found = uow.incident(incident)
        assert found is not None and uow.incident(incident) is found
        found.channel_id = "C0INCIDENT"
        uow.flush()
        assert uow.incident_for_channel("C0INCIDENT") is found
        assert uow.channels == {"C0INCIDENT": incident}
        assert uow.incident_for_channel("C0ELSEWHERE") is None


def _committed(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(TimelineEvent.text).order_by(TimelineEvent.id)))


def test_a_connections_unit_of_work_commits_core_rows_without_opening_a_session(
    engine, sessions
) -> None:
    incident_id = stored_incident(sessions)
    opened: list[object] = []
    event.listen(sessions, "after_begin", lambda *args: opened.append(args))
    with connected_unit_of_work(engine, sessions) as uow:
        _entry(uow.rows(), incident_id, "core only")
    assert uow.session_opened is None
    assert opened == []
    assert _committed(sessions) == ["core only"]


def test_a_session_opened_on_the_way_joins_the_transaction_and_hears_of_its_commit(
    engine, sessions
) -> None:
    incident_id = stored_incident(sessions)
    heard: list[list[str]] = []
    event.listen(sessions, "after_commit", lambda session: heard.append(_committed(sessions)))
    with connected_unit_of_work(engine, sessions) as uow:
        _entry(uow.rows(), incident_id, "core")
        incident = uow.incident(incident_id)
        assert incident is not None
        incident.title = "renamed in the same transaction"
    assert _committed(sessions) == ["core"]
    # Told after the commit: what it wrote is there to be read by then.
    assert heard == [["core"]]
    with sessions() as session:
        assert session.get(Incident, incident_id).title == "renamed in the same transaction"


def test_a_failing_connections_unit_of_work_takes_back_core_rows_and_orm_changes(
    engine, sessions
) -> None:
    incident_id = stored_incident(sessions)
    with pytest.raises(RuntimeError), connected_unit_of_work(engine, sessions) as uow:
        _entry(uow.rows(), incident_id, "never")
        uow.flush()
        incident = uow.incident(incident_id)
        assert incident is not None
        incident.title = "never either"
        uow.flush()
        raise RuntimeError("the work failed")
    assert _committed(sessions) == []
    with sessions() as session:
        assert session.get(Incident, incident_id).title == "t"

"""Rows written late and together: visible to the next query, kept at commit, taken back
with a savepoint that rolls back, refused as one when a key is taken."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage import deferred
from storage.db import transaction
from storage.models import TimelineEvent
from tests.storage.helpers import NOW, stored_incident

EVENTS = TimelineEvent.__table__


def _entry(rows: deferred.Rows, incident_id: int, text: str, key: str | None = None) -> dict:
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


def _texts(session) -> list[str]:
    return list(session.scalars(select(TimelineEvent.text).order_by(TimelineEvent.id)))


def test_closed_rows_are_read_by_the_next_query_and_open_ones_go_in_at_commit(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with transaction(sessions) as session:
        first = deferred.Rows(session)
        row = _entry(first, incident, "draft")
        row["text"] = "first"  # still the writer's own: changes go in
        first.close()
        second = deferred.Rows(session)
        _entry(second, incident, "second")
        assert _texts(session) == ["first"]  # the open writer is not written yet
        third = deferred.Rows(session)
        _entry(third, incident, "third")
        third.close()
        assert _texts(session) == ["first"]  # nor what comes after it: order is kept
    with transaction(sessions) as session:
        assert _texts(session) == ["first", "second", "third"]


def test_a_rolled_back_transaction_writes_nothing_and_a_closed_writer_takes_no_more(
    sessions,
) -> None:
    incident = stored_incident(sessions)
    with pytest.raises(RuntimeError, match="lost"), transaction(sessions) as session:
        rows = deferred.Rows(session)
        _entry(rows, incident, "lost")
        rows.close()
        with pytest.raises(RuntimeError, match="handed over"):
            _entry(rows, incident, "late")
        raise RuntimeError("lost")
    with transaction(sessions) as session:
        assert _texts(session) == []


def test_a_savepoint_rolled_back_takes_back_only_what_was_added_inside_it(sessions) -> None:
    incident = stored_incident(sessions)
    with transaction(sessions) as session:
        before = deferred.Rows(session)
        _entry(before, incident, "before")
        before.close()
        with pytest.raises(RuntimeError), session.begin_nested():
            assert _texts(session) == ["before"]  # written inside the savepoint
            inside = deferred.Rows(session)
            _entry(inside, incident, "inside")
            inside.close()
            assert _texts(session) == ["before", "inside"]
            raise RuntimeError("refused")
        assert _texts(session) == ["before"]  # written again, outside the savepoint
        with session.begin_nested():
            kept = deferred.Rows(session)
            _entry(kept, incident, "kept")
            kept.close()
    with transaction(sessions) as session:
        assert _texts(session) == ["before", "kept"]


@pytest.mark.parametrize("failure", ["refused", "failed flush"])
def test_rows_from_before_a_savepoint_survive_its_rollback(sessions, failure: str) -> None:
    incident = stored_incident(sessions)
    with transaction(sessions) as session:
        rows = deferred.Rows(session)
        _entry(rows, incident, "taken", key="T1")
        rows.close()
    with transaction(sessions) as session:
        before = deferred.Rows(session)
        _entry(before, incident, "before")
        before.close()  # not written yet: no query since
        with pytest.raises((RuntimeError, IntegrityError)), session.begin_nested():
            if failure == "refused":
                raise RuntimeError("refused")
            # As when a twin delivery got there first: the ORM flush fails inside the
            # savepoint, which is then closed rather than rolled back.
            session.add(
                TimelineEvent(
                    incident_id=incident,
                    occurred_at=NOW,
                    recorded_at=NOW,
                    kind="note",
                    idempotency_key="T1",
                )
            )
            session.flush()
    with transaction(sessions) as session:
        assert _texts(session) == ["taken", "before"]


def test_flush_refuses_a_key_already_recorded(sessions) -> None:
    incident = stored_incident(sessions)
    with transaction(sessions) as session:
        rows = deferred.Rows(session)
        _entry(rows, incident, "first", key="T1")
        rows.close()
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        rows = deferred.Rows(session)
        _entry(rows, incident, "again", key="T1")
        rows.close()
        deferred.flush(session)
    with transaction(sessions) as session:
        assert _texts(session) == ["first"]


def test_flush_writes_the_rows_of_a_writer_still_open(sessions) -> None:
    incident = stored_incident(sessions)
    with transaction(sessions) as session:
        left_open = deferred.Rows(session)
        _entry(left_open, incident, "left open")
        closed = deferred.Rows(session)
        _entry(closed, incident, "closed")
        closed.close()
        deferred.flush(session)
        assert left_open.closed
        assert _texts(session) == ["left open", "closed"]

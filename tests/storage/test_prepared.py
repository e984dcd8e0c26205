"""Prepared statements on the driver's own cursor: each row stored with its own values
(even where a batch's rows share their times), rows returned, errors as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from storage.prepared import Prepared
from storage.types import JSONType, UTCDateTime

HONG_KONG = timezone(timedelta(hours=8))
NOW = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
metadata = MetaData()
stamps = Table(
    "stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
    Column("wall", DateTime),  # SQLite's DATETIME keeps the wall time it is given
)
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("body", String, nullable=False),
    Column("data", JSONType),
)
counters = Table(
    "counters",
    metadata,
    Column("key", String, primary_key=True),
    Column("seen", Integer, nullable=False),
)


@pytest.fixture
def tables(engine: Engine) -> Engine:
    metadata.create_all(engine)
    return engine


def _upsert(dialect: str) -> Prepared:
    statement: Any = (pg_insert if dialect == "postgresql" else sqlite_insert)(counters)
    statement = statement.values(key=bindparam("p_key"), seen=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key"], set_={"seen": counters.c.seen + 1}
    ).returning(counters.c.key, counters.c.seen)
    return Prepared(statement)


def test_rows_sharing_a_time_and_equal_instants_at_other_offsets_keep_their_own(
    tables: Engine,
) -> None:
    same_in_hong_kong = NOW.astimezone(HONG_KONG)  # == NOW, another wall time
    later = NOW + timedelta(minutes=5)
    rows = [
        {"id": 1, "at": NOW, "wall": NOW},
        {"id": 2, "at": NOW, "wall": same_in_hong_kong},
        {"id": 3, "at": same_in_hong_kong, "wall": later},
        {"id": 4, "at": later, "wall": NOW},
    ]
    with tables.begin() as connection:
        Prepared(insert(stamps)).run(connection, rows)
    with tables.connect() as connection:
        stored = connection.execute(select(stamps).order_by(stamps.c.id)).all()
    assert [row.at for row in stored] == [NOW, NOW, NOW, later]
    if tables.dialect.name == "sqlite":
        wall = [row.wall.strftime("%H:%M") for row in stored]
        assert wall == ["09:56", "17:56", "10:01", "09:56"]


def test_several_rows_keep_every_value_as_given(tables: Engine) -> None:
    # On PostgreSQL several rows go as one JSON document: what JSON escapes or carries
    # differently (quotes, backslashes, percent signs, emoji, offsets, nesting) comes back
    # as given.
    odd = 'quote " backslash \\ percent %(x)s %s newline\n tab\t emoji \U0001f525 CJK 交易'
    given = [
        {"id": 3, "at": NOW.astimezone(HONG_KONG), "body": odd, "data": {"labels": {"a": odd}}},
        {"id": 1, "at": NOW + timedelta(microseconds=7), "body": "", "data": [1, 2.5, None]},
        {"id": 2, "at": NOW, "body": "plain", "data": {"deep": [{"x": True}, "ü"]}},
    ]
    statement = (
        insert(notes)
        .values(
            id=bindparam("p_id"),
            at=bindparam("p_at", type_=UTCDateTime),
            body=bindparam("p_body"),
            data=bindparam("p_data", type_=JSONType),
        )
        .returning(notes.c.id)
    )
    rows = [{f"p_{key}": value for key, value in row.items()} for row in given]
    with tables.begin() as connection:
        returned = Prepared(statement).run(connection, rows)
    assert sorted(row[0] for row in returned) == [1, 2, 3]
    with tables.connect() as connection:
        stored = connection.execute(select(notes).order_by(notes.c.id)).all()
    by_id = {row["id"]: row for row in given}
    for row in stored:
        expected = by_id[row.id]
        assert (row.at, row.body, row.data) == (expected["at"], expected["body"], expected["data"])


def test_an_upsert_of_several_rows_returns_each_rows_outcome(tables: Engine) -> None:
    upsert = _upsert(tables.dialect.name)
    with tables.begin() as connection:
        assert upsert.run(connection, [{"p_key": "a"}]) == [("a", 1)]
        returned = upsert.run(connection, [{"p_key": "a"}, {"p_key": "b"}, {"p_key": "c"}])
    assert sorted(returned) == [("a", 2), ("b", 1), ("c", 1)]
    with tables.connect() as connection:
        assert (
            connection.execute(select(counters.c.seen).where(counters.c.key == "a")).scalar() == 2
        )


def test_a_taken_key_among_several_rows_raises_sqlalchemys_error_and_stores_nothing(
    tables: Engine,
) -> None:
    rows = [{"id": 7, "at": NOW, "wall": NOW}, {"id": 7, "at": NOW, "wall": NOW}]
    with pytest.raises(IntegrityError), tables.begin() as connection:
        Prepared(insert(stamps)).run(connection, rows)
    with tables.connect() as connection:
        assert connection.execute(select(stamps)).all() == []


def test_a_select_returns_its_rows(tables: Engine) -> None:
    with tables.begin() as connection:
        Prepared(insert(stamps)).run(connection, [{"id": 1, "at": NOW, "wall": NOW}])
        found = Prepared(select(stamps.c.id, stamps.c.at).where(stamps.c.id == bindparam("p")))
        rows = found.run(connection, {"p": 1})
    assert [row[0] for row in rows] == [1]


def test_a_row_missing_a_value_is_refused_before_anything_is_sent(tables: Engine) -> None:
    upsert = _upsert(tables.dialect.name)
    with pytest.raises(KeyError), tables.begin() as connection:
        upsert.run(connection, [{"p_key": "a"}, {"key": "b"}])
    with tables.connect() as connection:
        assert connection.execute(select(counters)).all() == []

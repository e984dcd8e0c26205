"""Prepared statements on SQLite's own cursor: each row stored with its own values, even
where a batch's rows share their times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, select

from storage.db import make_engine
from storage.types import UTCDateTime
from storage.unit_of_work import Prepared

HONG_KONG = timezone(timedelta(hours=8))
metadata = MetaData()
stamps = Table(
    "stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
    Column("wall", DateTime),  # keeps the wall time it is given, as SQLite's DATETIME does
)


def test_rows_sharing_a_time_and_equal_instants_at_other_offsets_keep_their_own(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'stamps.db'}")
    metadata.create_all(engine)
    now = datetime(2021, 3, 10, 9, 56, tzinfo=UTC)
    same_in_hong_kong = now.astimezone(HONG_KONG)  # == now, another wall time
    later = now + timedelta(minutes=5)
    rows = [
        {"id": 1, "at": now, "wall": now},
        {"id": 2, "at": now, "wall": same_in_hong_kong},
        {"id": 3, "at": same_in_hong_kong, "wall": later},
        {"id": 4, "at": later, "wall": now},
    ]
    statement = Prepared(insert(stamps))
    with engine.begin() as connection:
        statement.run(connection, rows)
    with engine.connect() as connection:
        stored = connection.execute(select(stamps).order_by(stamps.c.id)).all()
    assert [row.at for row in stored] == [now, now, now, later]
    wall = [row.wall.strftime("%H:%M") for row in stored]
    assert wall == ["09:56", "17:56", "10:01", "09:56"]
    engine.dispose()

"""PostgreSQL connections are pinged when taken from the pool only after sitting idle, or
after the pool found one dead; a batch whose connection had died is stored on a fresh one."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

import bot.outbox.batching
import storage.db
from bot.outbox.batching import GroupCommit
from storage.db import make_engine, make_sessionmaker
from storage.prepared import Prepared
from storage.unit_of_work import KeptConnection, UnitOfWork, connected_unit_of_work

pytestmark = pytest.mark.postgres


@pytest.fixture
def server(postgres_server: str) -> Iterator[Engine]:
    """The server's admin engine, to end other connections' sessions."""
    admin = make_engine(postgres_server)
    yield admin
    admin.dispose()


@pytest.fixture
def engine(postgres_server: str) -> Iterator[Engine]:
    engine = make_engine(postgres_server)
    yield engine
    engine.dispose()


def _pid(connection: Any) -> int:
    pid: int = connection.connection.dbapi_connection.info.backend_pid
    return pid


def _terminate(server: Engine, *pids: int) -> None:
    """End these backends as a server restart would, and wait until they are gone."""
    with server.connect() as admin:
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = admin.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": list(pids)},
            ).scalar_one()
            admin.commit()
            if not alive:
                return
            time.sleep(0.05)
    raise AssertionError(f"backends {pids} still running")


def test_a_connection_idle_past_the_limit_is_pinged_and_a_dead_one_replaced(
    engine: Engine, server: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.connect() as connection:
        first = _pid(connection)
    _terminate(server, first)
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 0.0)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert _pid(connection) != first


def test_one_found_dead_fails_its_statement_once_and_the_others_are_checked(
    engine: Engine, server: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Used a moment ago: not pinged, so a server restart in between costs one statement.
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 60.0)
    with engine.connect() as one, engine.connect() as other:
        pids = {_pid(one), _pid(other)}
    _terminate(server, *pids)
    probe = Prepared(select(text("1 AS one")))
    with engine.connect() as connection, pytest.raises(DBAPIError) as failed:
        probe.run(connection, {})
    assert failed.value.connection_invalidated
    # Every connection put back before that one died is pinged before its next use.
    with engine.connect() as first, engine.connect() as second:
        assert probe.run(first, {}) == [(1,)]
        assert probe.run(second, {}) == [(1,)]
        assert {_pid(first), _pid(second)}.isdisjoint(pids)


@pytest.fixture
def keys(engine: Engine) -> Iterator[Table]:
    table = Table(
        f"keys_{uuid.uuid4().hex[:10]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("key", String, unique=True, nullable=False),
    )
    table.create(engine)
    yield table
    table.drop(engine)


@pytest.mark.parametrize("kept", [False, True], ids=["pooled", "kept"])
async def test_a_batch_whose_connection_died_is_stored_once_on_a_fresh_one(
    engine: Engine, server: Engine, keys: Table, monkeypatch: pytest.MonkeyPatch, kept: bool
) -> None:
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 60.0)
    sessions = make_sessionmaker(engine)
    store = Prepared(insert(keys).values(key=bindparam("key")).returning(keys.c.key))
    used: list[int] = []

    def work(uow: UnitOfWork, jobs: list[str]) -> list[str]:
        connection = uow.connection()
        used.append(_pid(connection))
        return [row[0] for row in store.run(connection, [{"key": job} for job in jobs])]

    source = KeptConnection(engine) if kept else engine
    group = GroupCommit(sessions, work, begin=lambda: connected_unit_of_work(source, sessions))
    assert await group.submit("before") == "before"
    _terminate(server, used[-1])
    assert await group.submit("after") == "after"  # not a database error: run again
    with engine.connect() as connection:
        stored = connection.execute(select(keys.c.key).order_by(keys.c.id)).scalars().all()
    assert stored == ["before", "after"]
    assert used[1] == used[0] and used[2] != used[0]  # tried on the dead one, then a new one


def _gone(server: Engine, pid: int) -> bool:
    """Whether that backend has ended (given a few seconds to)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with server.connect() as admin:
            alive = admin.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar_one()
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_a_kept_connection_serves_a_threads_transactions_outside_the_pool(
    engine: Engine, server: Engine, keys: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 60.0)
    sessions = make_sessionmaker(engine)
    kept = KeptConnection(engine)
    pids = []
    for key in ("a", "b"):
        with connected_unit_of_work(kept, sessions) as uow:
            connection = uow.connection()
            connection.execute(insert(keys).values(key=key))
            pids.append(_pid(connection))
        assert engine.pool.checkedout() == 0  # not the pool's: a test's teardown counts it
    assert pids[0] == pids[1]
    # Idle past the limit: given back, and the next transaction takes another.
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 0.0)
    with connected_unit_of_work(kept, sessions) as uow:
        pids.append(_pid(uow.connection()))
    assert pids[2] != pids[0] and _gone(server, pids[0])
    kept.release()
    assert _gone(server, pids[2])
    with engine.connect() as connection:
        assert connection.execute(select(keys.c.key).order_by(keys.c.id)).scalars().all() == [
            "a",
            "b",
        ]


async def test_the_writer_gives_its_kept_connection_back_when_it_stops(
    engine: Engine, server: Engine, keys: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.db, "PING_IDLE_AFTER", 60.0)
    monkeypatch.setattr(bot.outbox.batching, "IDLE_SECONDS", 0.05)
    sessions = make_sessionmaker(engine)
    kept = KeptConnection(engine)
    used: list[int] = []

    def work(uow: UnitOfWork, jobs: list[str]) -> list[str]:
        used.append(_pid(uow.connection()))
        return jobs

    stopped: list[str] = []

    def stop() -> None:
        stopped.append(threading.current_thread().name)
        kept.release()

    group = GroupCommit(
        sessions, work, begin=lambda: connected_unit_of_work(kept, sessions), on_stop=stop
    )
    assert await group.submit("one") == "one"
    assert await asyncio.to_thread(_gone, server, used[0])  # once the writer is idle
    assert stopped == ["group-commit"]  # released by the thread that kept it

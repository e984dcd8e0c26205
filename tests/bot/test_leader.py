"""Leader election: a stop while the lock is being checked lets go only after the check."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bot.scheduling.leader import LOCK_KEY, AdvisoryLeader, schema_key
from storage.migrate import upgrade
from tests.conftest import _postgres_schema_engine


@pytest.fixture
def engine(postgres_server: str) -> Iterator[Engine]:
    """A migrated PostgreSQL schema of its own (advisory locks are PostgreSQL's)."""
    for engine, _ in _postgres_schema_engine(postgres_server):
        upgrade(engine)
        yield engine


@pytest.mark.postgres
async def test_a_stop_during_a_check_lets_go_of_the_lock_after_it(engine: Engine) -> None:
    order: list[str] = []
    checking, answer = threading.Event(), threading.Event()
    leader = AdvisoryLeader(
        engine, on_elected=lambda _epoch: None, on_lost=lambda: None, interval=0.01
    )
    check, release = leader._still_holding, leader.release

    def slow_check() -> bool:
        checking.set()
        answer.wait(10)
        held = check()
        order.append("checked")
        return held

    def noted_release() -> None:
        order.append("released")
        release()

    leader._still_holding = slow_check  # type: ignore[method-assign]
    leader.release = noted_release  # type: ignore[method-assign]
    running = asyncio.create_task(leader.run())
    assert await asyncio.to_thread(checking.wait, 10)
    running.cancel()
    await asyncio.sleep(0.1)  # time enough to let go, were it not waiting for the check
    answer.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(running, timeout=10)
    # One connection, one thread at a time: the check ended before the lock was let go.
    assert order == ["checked", "released"]
    assert not leader.leading
    with engine.connect() as other:
        schema = other.execute(text("SELECT current_schema()")).scalar()
        keys = {"k": LOCK_KEY, "s": schema_key(str(schema))}
        taken = other.execute(text("SELECT pg_try_advisory_lock(:k, :s)"), keys).scalar()
        assert taken is True  # the lock is free for the next replica
        other.execute(text("SELECT pg_advisory_unlock(:k, :s)"), keys)
        other.commit()

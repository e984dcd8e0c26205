"""The scheduler's fencing token: each takeover starts a new epoch, a job of an older one is
refused, and on PostgreSQL a takeover waits for a job that already holds the row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage import leadership
from storage.models import SchedulerLeader
from tests.storage.helpers import NOW
from tests.support.server import wait_until


def _take_over(engine: Engine, holder: str) -> int:
    with engine.connect() as connection:
        epoch = leadership.take_over(connection=connection, holder=holder, now=NOW)
        connection.commit()
    return epoch


def test_each_takeover_starts_a_new_epoch_and_fences_out_the_last(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    first = _take_over(engine, "alpha:1")
    second = _take_over(engine, "bravo:2")

    assert second == first + 1
    with sessions() as session:
        assert leadership.holds(session=session, epoch=second) is True
        assert leadership.holds(session=session, epoch=first) is False
        row = session.get(SchedulerLeader, 1)
        assert row is not None and (row.epoch, row.holder) == (second, "bravo:2")
    with engine.connect() as connection:
        assert leadership.current(connection=connection) == second


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_takeover_waits_for_the_job_that_holds_the_row_to_commit(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    old = _take_over(engine, "alpha:1")
    with sessions() as job, ThreadPoolExecutor(max_workers=1) as pool:
        assert leadership.holds(session=job, epoch=old) is True  # row locked until commit
        takeover = pool.submit(_take_over, engine, "bravo:2")

        def waiting_on_a_lock() -> bool:
            with engine.connect() as probe:
                return bool(
                    probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND query LIKE 'UPDATE scheduler_leader%'"
                        )
                    ).scalar()
                )

        wait_until(waiting_on_a_lock, timeout=5)
        assert not takeover.done()  # the old leader's job commits first
        job.commit()
        assert takeover.result(timeout=5) == old + 1
    with sessions() as late_job:
        assert leadership.holds(session=late_job, epoch=old) is False

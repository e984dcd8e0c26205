"""The scheduler's own thread: a stopping process leaves the shared job store as it was."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from bot.scheduling.scheduler import _Background, fire_reminder


def test_shutting_down_leaves_due_reminders_to_the_process_that_fires_them(engine) -> None:
    # A paused replica writes jobs but fires none. When it stops, a due status-update
    # reminder must stay due for the leader: not skipped ahead to its next interval.
    scheduler = _Background(jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC)
    scheduler.start(paused=True)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    scheduler.add_job(
        fire_reminder,
        IntervalTrigger(seconds=1800, start_date=due, timezone=UTC),
        id="reminder:1",
        args=[1],
    )
    time.sleep((due - datetime.now(UTC)).total_seconds() + 0.2)  # now it is due
    scheduler.shutdown(wait=True)

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    assert stored == [("reminder:1", due.timestamp())]

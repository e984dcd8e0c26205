"""APScheduler 3.x adapter: reminder jobs in the same database, fired through the domain.

Jobs are module-level functions so the job store can pickle them by reference; they reach
the running service through `_runtime`, set when the scheduler is built. The scheduler runs
in its own thread (BackgroundScheduler): its job store reads and writes the database, which
must never happen on the event loop, where it would hold up every request behind a lock or a
round trip.
Only one process may run jobs against a job store: on PostgreSQL the leader is chosen by
an advisory lock (bot/scheduling/leader.py); the others start paused and only write jobs.
A job commits only under its leader's epoch (bot/scheduling/fence.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.composition.runtime import Runtime
from bot.incidents.clock import SimulatedClock
from bot.incidents.context import Domain
from bot.incidents.effects import Effect, Schedule, Unschedule
from bot.incidents.records import Outcome
from bot.outbox.routes import Attempt, Route
from bot.scheduling.fence import Fence
from bot.usecases import fire_reminder as usecase
from bot.usecases.fire_reminder import Due
from bot.usecases.maintenance_notices import post_maintenance_notice
from storage.unit_of_work import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)
FENCE_RETRY = 1.0  # seconds before looking at the leader epoch again when it could not be read
_runtime: Runtime | None = None
_current: Scheduler | None = None


def current() -> Scheduler | None:
    """The scheduler of this process, once built (replays fire its due jobs)."""
    return _current


def _run(fn: Callable[[UnitOfWork], Outcome | None]) -> None:
    assert _runtime is not None, "scheduler job fired before the scheduler was built"
    assert _current is not None
    with unit_of_work(_runtime.sessions) as uow:
        if not _current.fence.admits(uow.session):
            # Another replica leads now and fires this job itself: commit nothing here.
            log.warning("scheduler: a job fired after leadership moved on; its effects dropped")
            _current.pause()
            return
        fn(uow)
    _runtime.wake_dispatcher()


def fire_reminder(incident_id: int) -> None:
    """Status-update reminder."""
    _run(lambda uow: usecase.fire_reminder(uow, _domain(), Due("reminder", incident_id)))


def fire_ack(incident_id: int) -> None:
    """Not acknowledged in time."""
    _run(lambda uow: usecase.fire_reminder(uow, _domain(), Due("ack", incident_id)))


def fire_timebox(incident_id: int, stage_id: str) -> None:
    """A stage's timebox ran out."""
    due = Due("timebox", incident_id, stage_id)
    _run(lambda uow: usecase.fire_reminder(uow, _domain(), due))


def fire_postmortem(incident_id: int) -> None:
    """The postmortem is due."""
    _run(lambda uow: usecase.fire_reminder(uow, _domain(), Due("postmortem", incident_id)))


def fire_archive(incident_id: int) -> None:
    """The incident channel's time to be archived (its postmortem was published)."""
    _run(lambda uow: usecase.fire_reminder(uow, _domain(), Due("archive", incident_id)))


def fire_maintenance(maintenance_id: int, phase: str) -> None:
    """A maintenance notice."""
    _run(lambda uow: post_maintenance_notice(uow, _domain(), maintenance_id, phase))


def _domain() -> Domain:
    assert _runtime is not None
    return _runtime.domain


JOBS: dict[str, Callable[..., Any]] = {
    "reminder": fire_reminder,
    "ack": fire_ack,
    "timebox": fire_timebox,
    "postmortem": fire_postmortem,
    "archive": fire_archive,
    "maintenance": fire_maintenance,
}
INCIDENT_JOBS = ("reminder", "ack", "timebox", "postmortem", "archive")


def job_id(effect: Schedule | Unschedule) -> str:
    """`reminder:<incident>`, `timebox:<incident>:<stage>`, `maintenance:<id>:<phase>`."""
    job = effect.job
    if job == "maintenance":
        phase = effect.phase if isinstance(effect, Schedule) else None
        return f"maintenance:{effect.maintenance_id}:{phase}"
    if job == "timebox":
        return f"timebox:{effect.incident_id}:{effect.stage}"
    return f"{job}:{effect.incident_id}"


def _args(effect: Schedule) -> list[Any]:
    if effect.job == "maintenance":
        return [effect.maintenance_id, effect.phase]
    if effect.job == "timebox":
        return [effect.incident_id, effect.stage]
    return [effect.incident_id]


class _Background(BackgroundScheduler):
    """APScheduler's thread, minus one habit: woken by `shutdown`, it would still process
    due jobs, fail to run them on its stopped executor, and move each repeating job to its
    next run in the shared store, so a stopping replica would skip the leader's reminders.
    Likewise a replica another one has taken over from leaves the due jobs in the store for
    the new leader, rather than taking them out to fire nothing."""

    fence: Fence | None = None

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        if self.state == STATE_RUNNING and self.fence is not None:
            try:
                stale = self.fence.stale()
            except Exception:
                # The job store is in the same database: nothing to do but look again soon.
                log.warning("scheduler: cannot read the leader epoch", exc_info=True)
                return FENCE_RETRY
            if stale:
                self.pause()
                return None
        return super()._process_jobs()


class Scheduler:
    """The reminder scheduler of one process; `handlers()` feed it from the outbox."""

    def __init__(self, runtime: Runtime) -> None:
        global _runtime, _current
        _runtime = runtime
        _current = self
        self.runtime = runtime
        self.store = SQLAlchemyJobStore(engine=runtime.engine)
        self.scheduler = _Background(
            jobstores={"default": self.store},
            # A reminder missed while the process was down fires once on start, not in a burst.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        self.fence = Fence(runtime.engine)
        self.scheduler.fence = self.fence
        self._wakeups: asyncio.Task[None] | None = None

    @property
    def running_jobs(self) -> bool:
        """True when this process fires jobs (leader, not paused)."""
        return self.scheduler.state == STATE_RUNNING

    def start(self, *, paused: bool) -> None:
        """Start; a paused scheduler writes jobs to the store but fires none."""
        # The job table comes with the schema (migration 0006), so replicas starting
        # together never race to create it.
        self.scheduler.start(paused=paused)
        self._wakeups = asyncio.get_running_loop().create_task(self._wake_regularly())

    def resume(self, epoch: int | None = None) -> None:
        """Become the process that fires jobs, under the leader epoch `epoch` (None: alone)."""
        log.info("scheduler: this process now fires reminder jobs (epoch %s)", epoch)
        self.fence.epoch = epoch
        self.scheduler.resume()

    def pause(self) -> None:
        """Stop firing jobs (leadership lost)."""
        log.warning("scheduler: paused (no longer the leader)")
        self.scheduler.pause()

    async def _wake_regularly(self) -> None:
        # Another replica may add jobs to the shared store; look at it every second.
        while True:
            await asyncio.sleep(1)
            if self.running_jobs:
                self.scheduler.wakeup()

    def shutdown(self) -> None:
        """Stop without waiting for running jobs."""
        if self._wakeups is not None:
            self._wakeups.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def routes(self) -> dict[type[Effect], Route[Any]]:
        """Outbox routes for `schedule.set` and `schedule.clear`."""
        return {Schedule: Route(self.set), Unschedule: Route(self.clear)}

    async def set(self, effect: Schedule, _attempt: Attempt) -> dict[str, Any]:
        """Add or replace a job."""
        due = effect.due_at
        every = effect.every_seconds
        trigger = (
            IntervalTrigger(seconds=every, start_date=due, timezone=UTC)
            if every
            else DateTrigger(run_date=due, timezone=UTC)
        )
        identifier = job_id(effect)
        # The first run is the time the domain chose on its clock. Left to itself APScheduler
        # would ask the wall clock: an interval starting in a replay's simulated past would
        # first run at the real "now", after every step of the replay.
        await asyncio.to_thread(
            self.scheduler.add_job,
            JOBS[effect.job],
            trigger,
            id=identifier,
            args=_args(effect),
            replace_existing=True,
            next_run_time=due,
        )
        return {"job": identifier, "due_at": due.isoformat()}

    async def clear(self, effect: Unschedule, _attempt: Attempt) -> dict[str, Any]:
        """Remove jobs: one by id, an incident's (`job: "*"`), or a maintenance's."""
        job = effect.job
        if job == "*":
            prefixes = [f"{kind}:{effect.incident_id}" for kind in INCIDENT_JOBS]
        elif job == "maintenance":
            prefixes = [f"maintenance:{effect.maintenance_id}"]
        elif job == "timebox" and effect.stage is None:
            prefixes = [f"timebox:{effect.incident_id}"]
        else:
            prefixes = [job_id(effect)]
        return {"removed": await asyncio.to_thread(self._remove, prefixes)}

    def _remove(self, prefixes: list[str]) -> list[str]:
        removed = []
        for existing in self.scheduler.get_jobs():
            if any(existing.id == p or existing.id.startswith(f"{p}:") for p in prefixes):
                with contextlib.suppress(JobLookupError):
                    existing.remove()
                    removed.append(existing.id)
        return removed

    async def run_due(
        self,
        until: datetime,
        clock: SimulatedClock,
        after_each: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Fire, in time order, every job due up to `until`, moving the clock to each (replay)."""
        fired = 0
        while True:
            due = [
                j for j in self.scheduler.get_jobs() if j.next_run_time and j.next_run_time <= until
            ]
            if not due:
                return fired
            job = min(due, key=lambda j: (j.next_run_time, j.id))
            run_time = job.next_run_time
            if run_time > clock.now():
                clock.set(run_time)
            await asyncio.to_thread(job.func, *job.args)
            fired += 1
            following = job.trigger.get_next_fire_time(run_time, run_time)
            try:
                if following is None:
                    job.remove()
                else:
                    job.modify(next_run_time=following)
            except JobLookupError:
                pass  # the job removed itself (an incident resolved by it)
            if after_each is not None:
                await after_each()

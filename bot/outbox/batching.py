"""Group commit: jobs from many concurrent requests share one transaction.

An alert storm is many small writes; on SQLite each transaction costs more than the alert
it stores, and only one can write at a time anyway. One writer thread takes whatever is
queued (up to a batch), hands them all to one call of the work function in one transaction
(so it can also share lookups and statements across them), commits, and only then answers
every request: the "202 after commit" promise holds for each of them. When the work fails,
the batch is rolled back and each job runs again in a transaction of its own; when it
failed because its connection had died, the whole batch runs again once first.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.db import transaction

Job = TypeVar("Job")
Result = TypeVar("Result")

IDLE_SECONDS = 5.0  # the writer thread stops when idle this long and restarts on demand
GIVE_WAY_POLL = 0.01
COMPANY_MEMORY = 0.5  # seconds after a batch with company during which batches linger


class Traffic:
    """Requests waiting on a lane's commits: whether some are now, or were answered within
    the last `quiet` seconds. For work that gives way to them (a read, a carry-out); the
    lane's own requests, not every transaction on the engine, since an idle service still
    runs a few a second (the scheduler's job store, the outbox's polls)."""

    def __init__(self) -> None:
        # Changed on the event loop by `GroupCommit.submit`; a thread may read them (an int
        # and a float: each read is atomic under the GIL).
        self.waiting = 0
        self.answered_at = -math.inf

    def busy(self, quiet: float) -> bool:
        """Whether a request is waiting now or one was answered within `quiet` seconds."""
        return self.waiting > 0 or time.monotonic() - self.answered_at < quiet


class GroupCommit(Generic[Job, Result]):
    """Run `work(session, jobs)` on queued jobs in shared transactions, in arrival order.

    `work` returns one result per job, in the jobs' order. `linger` (seconds) lets a batch
    wait for company after its first job: for work nobody is waiting on (a command already
    acknowledged), fewer and larger transactions leave more of the process to the requests.
    `company_linger` (seconds) lets a batch wait for company only when a batch had some
    within the last COMPANY_MEMORY seconds: requests arriving together keep arriving
    together (a storm), while a lone request is never held up. `give_way`, when given, is
    asked after the linger: while it says True the batch keeps waiting, for at most
    `give_way_for` seconds (work that may yield to a busier caller).
    `begin`, when given, opens each transaction instead of a session of `sessions` (and
    is what `work` receives; see `storage.unit_of_work.connected_unit_of_work`).
    `on_stop` is called on the writer thread when it stops, idle (what it kept, it gives
    back). `traffic` counts the requests waiting on this lane's commits (one of its own
    if not given).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        work: Callable[[Any, list[Job]], list[Result]],
        *,
        max_batch: int = 64,
        linger: float = 0.0,
        company_linger: float = 0.0,
        give_way: Callable[[], bool] | None = None,
        give_way_for: float = 0.0,
        begin: Callable[[], AbstractContextManager[Any]] | None = None,
        on_stop: Callable[[], None] | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.sessions = sessions
        self.work = work
        # What a transaction hands the work: a session by default.
        self.begin = begin or (lambda: transaction(sessions))
        self.on_stop = on_stop
        # Counted whether or not anyone asks (two attribute updates a request).
        self.traffic = traffic or Traffic()
        self.max_batch = max_batch
        self.linger = linger
        self.company_linger = company_linger
        self._company_at = -math.inf  # when a batch last had more than one job
        self.give_way = give_way
        self.give_way_for = give_way_for
        self._queue: queue.SimpleQueue[
            tuple[Job, asyncio.AbstractEventLoop, asyncio.Future[Result]]
        ]
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    async def submit(self, job: Job) -> Result:
        """Queue a job; return its result once its transaction is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        traffic = self.traffic
        traffic.waiting += 1  # before the writer can take it
        try:
            with self._lock:
                self._queue.put((job, loop, future))
                if not self._running:
                    self._running = True
                    threading.Thread(target=self._writer, name="group-commit", daemon=True).start()
            return await future
        finally:
            traffic.waiting -= 1
            traffic.answered_at = time.monotonic()

    def _take(self) -> list[tuple[Job, asyncio.AbstractEventLoop, asyncio.Future[Result]]] | None:
        try:
            first = self._queue.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._running = False
                    return None
            return []
        if self.linger:
            time.sleep(self.linger)
        elif self.company_linger and time.monotonic() - self._company_at < COMPANY_MEMORY:
            # A small batch pays its transaction's fixed part per job; a few ms more
            # gathers the storm's next requests, which arrive while the event loop has
            # the GIL.
            time.sleep(self.company_linger)
        if self.give_way is not None:
            until = time.monotonic() + self.give_way_for
            while self.give_way() and time.monotonic() < until:
                time.sleep(GIVE_WAY_POLL)
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if len(batch) > 1:
            self._company_at = time.monotonic()
        return batch

    def _writer(self) -> None:
        try:
            while (batch := self._take()) is not None:
                if batch:
                    self._run(batch)
        finally:
            if self.on_stop is not None:
                self.on_stop()

    def _run(
        self, batch: list[tuple[Job, asyncio.AbstractEventLoop, asyncio.Future[Result]]]
    ) -> None:
        outcomes = self._outcomes([job for job, _, _ in batch])
        # One wake-up per event loop for the whole batch, not one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        by_loop = {}
        for (_, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle, settled)

    def _outcomes(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        try:
            return self._together(jobs)
        except _JobFailed as failed:
            error = failed.error
            if getattr(error, "connection_invalidated", False):
                # Its connection had died (the database restarted): nothing of the batch
                # was stored, and the pool hands out a live one now.
                try:
                    return self._together(jobs)
                except _JobFailed as again:
                    error = again.error
                except Exception as at_commit:
                    return [(False, at_commit)] * len(jobs)
            if len(jobs) == 1:
                return [(False, error)]
            return [self._alone(job) for job in jobs]
        except Exception as error:  # the commit failed: nothing of this batch is stored
            return [(False, error)] * len(jobs)

    def _together(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        # Optimistic: every job in one transaction, no savepoints. A savepoint per job
        # costs two statements and a flush each; a job failing is rare (bad input is
        # refused before it is queued), so that case pays instead.
        with self.begin() as session:
            try:
                results = self.work(session, jobs)
            except Exception as error:
                raise _JobFailed(error) from None  # roll back, then run each on its own
            if len(results) != len(jobs):
                raise AssertionError(f"{len(results)} results for {len(jobs)} jobs")
        return [(True, result) for result in results]

    def _alone(self, job: Job) -> tuple[bool, Any]:
        try:
            with self.begin() as session:
                return True, self.work(session, [job])[0]
        except Exception as error:
            return False, error


class _JobFailed(Exception):
    """The work on a shared transaction raised; its jobs run again one at a time."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _settle(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():  # the request went away meanwhile
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

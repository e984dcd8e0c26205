"""The outbox dispatcher: claims due chains, leases them, and runs each as its own task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import Clock, SystemClock
from bot.outbox.chains import ChainRunner
from bot.outbox.routes import Routes
from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp

log = logging.getLogger(__name__)

# The least time between two claims while chains are running (see run_forever).
CLAIM_GAP = 0.1  # seconds


class Dispatcher:
    """Claims due outbox chains and runs each operation through its effect type's route."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        routes: Routes,
        *,
        clock: Clock | None = None,
        lease: timedelta = timedelta(seconds=15),
        poll_interval: float = 1.0,
        concurrency: int = 16,
        grace: float = 5.0,
        on_failed: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.routes = dict(routes)
        self.clock = clock or SystemClock()
        self._chains = ChainRunner(sessions, self.routes, self.clock, on_failed)
        self.lease = lease
        self.poll_interval = poll_interval
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.concurrency = concurrency
        # How long a stop waits for the chains under way before interrupting them.
        self.grace = grace
        self._semaphore = asyncio.Semaphore(concurrency)
        # Claims made so far, and whether the last found more due chains than room to run
        # them: how a finishing chain knows that work may be waiting for it (see `_start`).
        self._claims = 0
        self._saturated = False
        # Ids of claimed operations not yet finished; their lease is renewed while held.
        self._held: set[int] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def wake(self) -> None:
        """Claim now; safe to call from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Claim nothing more; run_forever returns once the chains begun end (see `grace`)."""
        self._stopping = True
        self.wake()

    async def run_forever(self) -> None:
        """Claim due chains on `wake()` or every poll interval, each run as its own task,
        until stopped; then give the chains begun `grace` seconds to finish, and hand back
        what they had not finished, to be resumed at once by whoever runs next.

        Chains are not run in rounds: a chain waiting on a slow far side (a Retry-After of
        a minute, a call timing out) holds up its own lane only, never another incident's
        channel opening behind it.
        """
        self._loop = asyncio.get_running_loop()
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-lease-heartbeat")
        running: dict[asyncio.Task[int], list[int]] = {}
        try:
            claimed_at = -CLAIM_GAP
            while not self._stopping:
                if running:
                    # In a storm every commit wakes us and most claims would find only lanes
                    # already held: while chains run, claims come no closer than CLAIM_GAP
                    # (a new incident's first step waits that long at most).
                    await asyncio.sleep(claimed_at + CLAIM_GAP - self._loop.time())
                    if self._stopping:
                        break
                # Cleared before claiming, so a wake while claiming claims again at once.
                self._wake.clear()
                claimed_at = self._loop.time()
                room = self.concurrency - len(running)
                chains: list[list[OutboxOp]] = []
                if room > 0:
                    try:
                        chains = await asyncio.to_thread(self._claim, room)
                    except Exception:
                        log.exception("could not claim outbox operations; retrying shortly")
                    self._claims += 1
                    for chain in chains:
                        self._start(chain, running)
                self._saturated = len(chains) >= room
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            try:
                if running:
                    await asyncio.wait(running, timeout=self.grace)
            finally:
                unfinished = [op_id for ids in running.values() for op_id in ids]
                tasks = [*running, heartbeat]
                for task in tasks:
                    task.cancel()
                if unfinished:
                    # Not through to_thread: this may run while the task is being cancelled.
                    self._interrupt(unfinished)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, chain: list[OutboxOp], running: dict[asyncio.Task[int], list[int]]) -> None:
        """Run a claimed chain as a task of its own, held in `running` until it ends."""
        ids = self._hold(chain)
        claimed_at = self._claims
        task = asyncio.create_task(self._run_chain(chain), name="outbox-chain")
        running[task] = ids

        def ended(task: asyncio.Task[int]) -> None:
            running.pop(task, None)
            error = None if task.cancelled() else task.exception()
            if error is not None:
                log.error("outbox chain failed; its lease runs out", exc_info=error)
            # A claim made while the chain ran passed over its lane (held, so not due), and
            # a full claim left lanes waiting for room: either way, claim again now.
            if self._claims != claimed_at or self._saturated:
                self._wake.set()

        task.add_done_callback(ended)

    async def _heartbeat(self) -> None:
        """Keep the lease on held operations alive, three renewals per lease.

        The lease is short so that the work of a crashed process is picked up within
        seconds; a live process keeps what it holds however long Slack makes it wait.
        """
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            held = sorted(self._held)
            if not held:
                continue
            try:
                await asyncio.to_thread(self._renew, held)
            except Exception:
                log.exception("could not renew the outbox lease; retrying")

    def _renew(self, op_ids: list[int]) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            outbox.renew(
                session=session, op_ids=op_ids, worker=self.worker, until=now + self.lease, now=now
            )

    async def run_once(self) -> int:
        """Claim and run one round of due chains; return how many operations ran."""
        self._loop = asyncio.get_running_loop()
        chains = await asyncio.to_thread(self._claim)
        if not chains:
            return 0
        for chain in chains:
            self._hold(chain)
        counts = await asyncio.gather(*(self._run_chain(chain) for chain in chains))
        return sum(counts)

    async def drain(self, max_rounds: int = 1000) -> None:
        """Run rounds until nothing is due (tests and replays)."""
        for _ in range(max_rounds):
            if not await self.run_once():
                return
        raise RuntimeError(f"outbox still busy after {max_rounds} rounds")

    def _claim(self, limit: int = 50) -> list[list[OutboxOp]]:
        with transaction(self.sessions) as session:
            return outbox.claim(
                session=session,
                worker=self.worker,
                now=self.clock.now(),
                lease=self.lease,
                limit=limit,
            )

    def _hold(self, chain: list[OutboxOp]) -> list[int]:
        """Mark a claimed chain's operations held (their lease renewed); return their ids."""
        ids = [op.id for op in chain if op.id is not None]
        self._held.update(ids)
        return ids

    async def _run_chain(self, chain: list[OutboxOp]) -> int:
        try:
            async with self._semaphore:
                return await self._chains.run(chain)
        finally:
            ids = [op.id for op in chain]
            self._held.difference_update(ids)
            self._chains.begun.difference_update(ids)

    def _interrupt(self, op_ids: list[int]) -> None:
        """Hand back the operations of chains this worker stopped in the middle of, due at
        once: those whose call had begun as resumed, the ones behind them untried."""
        begun = [op_id for op_id in op_ids if op_id in self._chains.begun]
        untried = [op_id for op_id in op_ids if op_id not in self._chains.begun]
        try:
            with transaction(self.sessions) as session:
                outbox.interrupt(
                    session=session,
                    op_ids=begun,
                    untried=untried,
                    worker=self.worker,
                    now=self.clock.now(),
                )
        except Exception:  # their lease runs out instead
            log.exception("could not hand back the outbox operations under way")

"""The outbox dispatcher: carries out committed operations in order per incident, with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import Clock, SystemClock
from bot.incidents.effect_codec import UnknownEffect, decode
from bot.incidents.effects import Effect, PostNotice
from bot.incidents.notices import DeliveryFailed, Notice
from bot.outbox.batching import GroupCommit
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.outcomes import storable, tell
from bot.outbox.retries import UNREADABLE, Fail, Retry, judge, worn_out
from bot.outbox.routes import Attempt, Remark, Route, Routes, Superseded, Together
from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp

log = logging.getLogger(__name__)

# The least time between two claims while chains are running (see run_forever).
CLAIM_GAP = 0.1  # seconds

# A finished operation: id, incident, kind, what the far side answered, what to tell.
Finished = tuple[int, int | None, str, dict[str, Any], tuple[Remark, ...]]


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
        # Told (effect kind, REFUSED | UNREADABLE | FAULT) of each operation failed for good.
        self.on_failed = on_failed
        self.routes = dict(routes)
        self.clock = clock or SystemClock()
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
        # Operations finishing together are marked done in one transaction: a burst of
        # echoes costs a commit per batch, not per message.
        self._finished: GroupCommit[Finished, None] = GroupCommit(sessions, self._complete)

    def wake(self) -> None:
        """Start a round now; safe to call from any thread."""
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
        ids = [op.id for op in chain if op.id is not None]
        self._held.update(ids)
        claimed_at = self._claims
        task = asyncio.create_task(self._run_chain(chain), name="outbox-chain")
        running[task] = ids

        def ended(task: asyncio.Task[int]) -> None:
            running.pop(task, None)
            if not task.cancelled() and task.exception() is not None:
                error = task.exception()
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
        self._held.update(op.id for chain in chains for op in chain if op.id is not None)
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

    async def _run_chain(self, chain: list[OutboxOp]) -> int:
        try:
            return await self._run_ops(chain)
        finally:
            self._held.difference_update(op.id for op in chain)

    async def _run_ops(self, chain: list[OutboxOp]) -> int:
        async with self._semaphore:
            effects = [_effect(op) for op in chain]
            ran = index = 0
            while index < len(chain):
                op, effect = chain[index], effects[index]
                route = self.routes.get(type(effect)) if isinstance(effect, Effect) else None
                plan = None
                if route is not None and route.coalesce is not None:
                    following = [e if isinstance(e, Effect) else None for e in effects[index + 1 :]]
                    plan = route.coalesce(effect, following)
                if isinstance(plan, Superseded):
                    await self._finish(op, plan.result)  # no call to make
                    index += 1
                    continue
                size = min(plan.size, len(chain) - index) if isinstance(plan, Together) else 1
                # A resumed operation goes alone: its route looks for what it did before.
                size = next((n for n in range(size) if _resumed(chain[index + n])), size) or 1
                if route is None or route.run_together is None or size <= 1:
                    ok = await self._run(op, effect)
                    size = 1
                else:
                    ok = await self._run_together(
                        route, chain[index : index + size], effects[index : index + size]
                    )
                ran += size
                if not ok:
                    later = chain[index + 1 :]
                    await asyncio.to_thread(self._release, [o.id for o in later if o.id])
                    break
                index += size
            return ran

    async def _run_together(
        self, route: Route[Any], ops: list[OutboxOp], effects: list[Effect | UnknownEffect]
    ) -> bool:
        """Like `_run`, for several: done together, or retried (or failed) together."""
        assert route.run_together is not None
        attempts = [_attempt(op) for op in ops]
        try:
            results = await route.run_together(effects, attempts)
        except RetryLater as error:
            # The far side may still be carrying the batch out: each operation waits, then
            # runs alone, as resumed, and finds what the batch did.
            for op in ops:
                verdict = judge(op, error)
                assert isinstance(verdict, Retry)
                await self._retry(op, verdict)
            return False
        except Exception:
            # Whatever went wrong, the first one's own run sorts it out (retry, backoff,
            # failing for good); the rest wait behind it, as their chain does. Each runs as
            # resumed: a timeout says nothing of whether the far side did it.
            return await self._run(ops[0], effects[0], resumed=True) and await self._run_rest(
                ops[1:], effects[1:]
            )
        # Submitted together, so they are marked done in one transaction, not one each.
        await asyncio.gather(
            *(self._finish(op, result) for op, result in zip(ops, results, strict=True))
        )
        return True

    async def _run_rest(self, ops: list[OutboxOp], effects: list[Effect | UnknownEffect]) -> bool:
        for op, effect in zip(ops, effects, strict=True):
            if not await self._run(op, effect, resumed=True):
                return False
        return True

    async def _run(
        self, op: OutboxOp, effect: Effect | UnknownEffect, *, resumed: bool = False
    ) -> bool:
        """Carry out one operation; False when it must be retried (its chain waits)."""
        if isinstance(effect, UnknownEffect):
            await self._fail(op, Fail(str(effect), UNREADABLE))
            return True
        route = self.routes.get(type(effect))
        if route is None:
            await self._fail(op, Fail(f"no handler for {op.kind}", UNREADABLE))
            return True
        worn = worn_out(op)  # its last tries never reported back
        if worn is not None:
            await self._fail(op, worn)
            return True
        try:
            result = await route.run(effect, _attempt(op, resumed=resumed))
        except Exception as error:
            verdict = judge(op, error)
            if isinstance(verdict, Retry):
                await self._retry(op, verdict)
                return False
            refused = isinstance(error, GiveUp)
            notice = self._refusal(route, effect, verdict.error) if refused else None
            await self._fail(op, verdict, notice=notice)
            return True
        await self._finish(op, result or {}, self._remarks(route, effect, result or {}))
        return True

    def _remarks(self, route: Route[Any], effect: Effect, result: dict[str, Any]) -> list[Remark]:
        if route.remarks is None:
            return []
        try:
            return list(route.remarks(effect, result))
        except Exception:  # what to tell must never undo what was done
            log.exception("could not read the remarks of a %s result", effect.kind)
            return []

    def _refusal(self, route: Route[Any], effect: Effect, reason: str) -> Notice | None:
        if route.refused is None:
            return None
        try:
            return route.refused(effect, reason)
        except Exception:  # the generic notice still tells it
            log.exception("could not word the refusal of a %s", effect.kind)
            return None

    async def _finish(
        self, op: OutboxOp, result: dict[str, Any], remarks: Sequence[Remark] = ()
    ) -> None:
        assert op.id is not None
        await self._finished.submit((op.id, op.incident_id, op.kind, result, tuple(remarks)))

    def _complete(self, session: Session, done: list[Finished]) -> list[None]:
        now = self.clock.now()
        outbox.complete(
            session=session, results={op_id: result for op_id, _, _, result, _ in done}, now=now
        )
        for op_id, incident_id, kind, _, remarks in done:
            for remark in remarks:
                if incident_id is not None:
                    entry = remark.entry
                    tell(session, incident_id, op_id, kind, entry, remark.text, remark.notice, now)
        return [None] * len(done)

    async def _retry(self, op: OutboxOp, retry: Retry) -> None:
        error, delay, fault = retry.error, retry.delay, retry.fault
        if not fault:
            log.warning(
                "outbox op %s (%s) failed, retrying in %.1fs: %s", op.id, op.kind, delay, error
            )
        op_id = op.id
        assert op_id is not None
        now = self.clock.now()

        def work() -> None:
            with transaction(self.sessions) as session:
                outbox.retry_later(
                    session=session,
                    op_id=op_id,
                    error=storable(error),
                    at=now + timedelta(seconds=delay),
                    now=now,
                    fault=fault,
                )

        await asyncio.to_thread(work)

    async def _fail(self, op: OutboxOp, fail: Fail, *, notice: Notice | None = None) -> None:
        """Fail an operation for good: its timeline entry, and a notice in the incident's
        channel (`notice`, else one saying what `fail` tells), written with it; the chain
        goes on."""
        error, cause, told, fault = fail.error, fail.cause, fail.told, fail.fault
        log.error("outbox op %s (%s) failed for good: %s", op.id, op.kind, error)
        now = self.clock.now()
        op_id = op.id
        assert op_id is not None
        public = storable(told or error)[:500]

        def work() -> None:
            with transaction(self.sessions) as session:
                outbox.fail(
                    session=session, op_id=op_id, error=storable(error), now=now, fault=fault
                )
                if op.incident_id is not None:
                    # A notice that cannot be posted is not told about in turn: no loop.
                    said = notice or DeliveryFailed(kind=op.kind, reason=public)
                    told_once = None if op.kind == PostNotice.kind else said
                    tell(
                        session,
                        op.incident_id,
                        op_id,
                        op.kind,
                        "delivery_failed",
                        public,
                        told_once,
                        now,
                    )

        await asyncio.to_thread(work)
        if self.on_failed is not None:
            self.on_failed(op.kind, cause)

    def _interrupt(self, op_ids: list[int]) -> None:
        """Hand back operations this worker stopped in the middle of, due at once."""
        try:
            with transaction(self.sessions) as session:
                outbox.interrupt(
                    session=session, op_ids=op_ids, worker=self.worker, now=self.clock.now()
                )
        except Exception:  # their lease runs out instead
            log.exception("could not hand back the outbox operations under way")

    def _release(self, op_ids: list[int]) -> None:
        with transaction(self.sessions) as session:
            outbox.release(session=session, op_ids=op_ids, now=self.clock.now())


def _resumed(op: OutboxOp) -> bool:
    """Whether an earlier attempt at the operation may have got part of the way."""
    return op.attempts > 0 or op.last_error is not None


def _attempt(op: OutboxOp, *, resumed: bool = False) -> Attempt:
    assert op.id is not None
    return Attempt(op.id, resumed or _resumed(op), op.attempts, op.created_at)


def _effect(op: OutboxOp) -> Effect | UnknownEffect:
    """The effect an operation holds, or why this code cannot read it."""
    try:
        return decode(op.kind, op.version, op.payload)
    except UnknownEffect as error:
        return error

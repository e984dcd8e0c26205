"""Running one claimed chain: each operation through its effect type's route, in order,
several together where the route coalesces them, and what became of each stored (done,
retried later, failed for good with its notice)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.clock import Clock
from bot.incidents.effect_codec import UnknownEffect, decode
from bot.incidents.effects import Effect, PostNotice
from bot.incidents.notices import DeliveryFailed, Notice
from bot.outbox.batching import GroupCommit
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.outcomes import storable, tell
from bot.outbox.retries import UNREADABLE, Fail, Retry, judge, worn_out
from bot.outbox.routes import Attempt, Remark, Route, Superseded, Together
from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp

log = logging.getLogger(__name__)

# A finished operation: id, incident, kind, what the far side answered, what to tell.
Finished = tuple[int, int | None, str, dict[str, Any], tuple[Remark, ...]]


class ChainRunner:
    """Carries out claimed chains through the routes; stores each operation's outcome."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        routes: dict[type, Route[Any]],
        clock: Clock,
        on_failed: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.routes = routes  # the dispatcher's own dict: routes added to it are used
        self.clock = clock
        # Told (effect kind, REFUSED | UNREADABLE | FAULT) of each operation failed for good.
        self.on_failed = on_failed
        # Operations finishing together are marked done in one transaction: a burst of
        # echoes costs a commit per batch, not per message.
        self._finished: GroupCommit[Finished, None] = GroupCommit(sessions, self._complete)
        # Operations whose call to the far side has begun, in chains still under way (the
        # dispatcher forgets a chain's when it ends): what a stop hands back as resumed.
        self.begun: set[int] = set()

    async def run(self, chain: list[OutboxOp]) -> int:
        """Carry out a claimed chain in order; return how many operations ran. An operation
        to be retried stops it: the ones behind it are handed back untried."""
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
        self.begun.update(attempt.op_id for attempt in attempts)
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
        attempt = _attempt(op, resumed=resumed)
        self.begun.add(attempt.op_id)
        try:
            result = await route.run(effect, attempt)
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

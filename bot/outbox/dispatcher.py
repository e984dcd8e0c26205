"""The outbox dispatcher: carries out committed operations in order per incident, with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents import effects
from bot.incidents.clock import Clock, SystemClock
from bot.incidents.effects import OP_ID, OP_RESUMED
from bot.integrations.errors import RetryLater
from bot.outbox.batching import GroupCommit
from bot.slack.errors import PERMANENT_ERRORS, PermanentError, slack_error
from storage import outbox
from storage.db import transaction
from storage.models import OutboxOp, TimelineEvent

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# Carries out several operations of one kind at once: one result per payload, in order.
GroupHandler = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
MAX_BACKOFF = 300.0
MAX_GROUP = 20  # operations one group handler call carries out at most
# Text a group of echoes carries at most (one long echo still goes alone): a message stays
# readable, and far from the length where Slack would cut it.
MAX_GROUP_TEXT = 4000


def backoff(attempts: int) -> float:
    """Seconds before the next try: exponential with jitter, capped at five minutes."""
    base = min(MAX_BACKOFF, 0.5 * 2 ** min(attempts, 12))
    return base * random.uniform(0.8, 1.2)


class Dispatcher:
    """Claims due outbox chains and runs each through its handler."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: dict[str, Handler],
        *,
        group_handlers: dict[str, GroupHandler] | None = None,
        clock: Clock | None = None,
        lease: timedelta = timedelta(seconds=15),
        poll_interval: float = 1.0,
        concurrency: int = 16,
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.group_handlers = group_handlers or {}
        self.clock = clock or SystemClock()
        self.lease = lease
        self.poll_interval = poll_interval
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._semaphore = asyncio.Semaphore(concurrency)
        # Ids of claimed operations not yet finished; their lease is renewed while held.
        self._held: set[int] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        # Operations finishing together are marked done in one transaction: a burst of
        # echoes costs a commit per batch, not per message.
        self._finished: GroupCommit[tuple[int, dict[str, Any]], None] = GroupCommit(
            sessions, self._complete
        )

    def wake(self) -> None:
        """Start a round now; safe to call from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Finish the current round and return from run_forever."""
        self._stopping = True
        self.wake()

    async def run_forever(self) -> None:
        """Run rounds until stopped, waking on `wake()` or every poll interval."""
        self._loop = asyncio.get_running_loop()
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-lease-heartbeat")
        try:
            while not self._stopping:
                # Cleared before the round, so a wake during the round starts the next at once.
                self._wake.clear()
                try:
                    busy = await self.run_once()
                except Exception:
                    log.exception("outbox round failed; retrying shortly")
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

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

    def _claim(self) -> list[list[OutboxOp]]:
        with transaction(self.sessions) as session:
            return outbox.claim(
                session=session, worker=self.worker, now=self.clock.now(), lease=self.lease
            )

    async def _run_chain(self, chain: list[OutboxOp]) -> int:
        try:
            return await self._run_ops(chain)
        finally:
            self._held.difference_update(op.id for op in chain)

    async def _run_ops(self, chain: list[OutboxOp]) -> int:
        async with self._semaphore:
            ran = index = 0
            while index < len(chain):
                op = chain[index]
                if op.kind == effects.UPDATE_CARD and any(
                    o.kind == effects.UPDATE_CARD for o in chain[index + 1 :]
                ):
                    # A later redraw shows everything this one would: skip a Slack call.
                    await self._finish(op, {"superseded": True})
                    index += 1
                    continue
                group = self._group(chain, index)
                ok = await (self._run(op) if len(group) == 1 else self._run_group(group))
                ran += len(group)
                if not ok:
                    later = chain[index + 1 :]
                    await asyncio.to_thread(self._release, [o.id for o in later if o.id])
                    break
                index += len(group)
            return ran

    def _group(self, chain: list[OutboxOp], index: int) -> list[OutboxOp]:
        """The operations from `index` one group handler call can carry out together:
        consecutive commands' echoes (other messages, a stage's checklist say, read
        better on their own)."""
        op = chain[index]
        if op.kind not in self.group_handlers or not op.payload.get("actor"):
            return [op]
        group, size = [op], len(str(op.payload.get("text") or ""))
        for following in chain[index + 1 : index + MAX_GROUP]:
            size += len(str(following.payload.get("text") or ""))
            if following.kind != op.kind or not following.payload.get("actor"):
                break
            if size > MAX_GROUP_TEXT:  # that one starts the next message
                break
            group.append(following)
        return group

    async def _run_group(self, group: list[OutboxOp]) -> bool:
        """Like `_run`, for a group: done together, or retried (or failed) together."""
        try:
            results = await self.group_handlers[group[0].kind]([op.payload for op in group])
        except Exception:
            # Whatever went wrong, the first one's own run sorts it out (retry, backoff,
            # failing for good); the rest of the group waits behind it, as its chain does.
            return await self._run(group[0]) and await self._run_rest(group[1:])
        # Submitted together, so they are marked done in one transaction, not one each.
        await asyncio.gather(
            *(self._finish(op, result) for op, result in zip(group, results, strict=True))
        )
        return True

    async def _run_rest(self, ops: list[OutboxOp]) -> bool:
        for op in ops:
            if not await self._run(op):
                return False
        return True

    async def _run(self, op: OutboxOp) -> bool:
        handler = self.handlers.get(op.kind)
        if handler is None:
            await self._fail(op, f"no handler for {op.kind}")
            return True
        try:
            resumed = op.attempts > 0 or op.last_error is not None
            result = await handler({**op.payload, OP_ID: op.id, OP_RESUMED: resumed})
        except SlackApiError as error:
            code = slack_error(error)
            status = error.response.status_code
            if code in PERMANENT_ERRORS:
                await self._fail(op, f"Slack refused {op.kind}: {code}")
                return True
            delay = backoff(op.attempts)
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
                "retry-after"
            )
            if status == 429 and retry_after:
                delay = max(delay, float(retry_after))
            await self._retry(op, f"Slack {status} {code}", delay)
            return False
        except RetryLater as error:
            # A third party said when to come back (Retry-After); else the usual backoff.
            delay = error.delay_seconds
            await self._retry(op, error.reason, backoff(op.attempts) if delay is None else delay)
            return False
        except PermanentError as error:
            await self._fail(op, str(error))
            return True
        except Exception as error:  # network errors, timeouts, third parties down
            await self._retry(op, f"{type(error).__name__}: {error}", backoff(op.attempts))
            return False
        await self._finish(op, result or {})
        return True

    async def _finish(self, op: OutboxOp, result: dict[str, Any]) -> None:
        assert op.id is not None
        await self._finished.submit((op.id, result))

    def _complete(self, session: Session, done: list[tuple[int, dict[str, Any]]]) -> list[None]:
        outbox.complete(session=session, results=dict(done), now=self.clock.now())
        return [None] * len(done)

    async def _retry(self, op: OutboxOp, error: str, delay: float) -> None:
        log.warning("outbox op %s (%s) failed, retrying in %.1fs: %s", op.id, op.kind, delay, error)
        now = self.clock.now()

        def work() -> None:
            with transaction(self.sessions) as session:
                outbox.retry_later(
                    session=session,
                    op_id=op.id,
                    error=error,
                    at=now + timedelta(seconds=delay),
                    now=now,
                )

        await asyncio.to_thread(work)

    async def _fail(self, op: OutboxOp, error: str) -> None:
        log.error("outbox op %s (%s) failed for good: %s", op.id, op.kind, error)
        now = self.clock.now()

        def work() -> None:
            with transaction(self.sessions) as session:
                outbox.fail(session=session, op_id=op.id, error=error, now=now)
                if op.incident_id is not None:
                    session.add(
                        TimelineEvent(
                            incident_id=op.incident_id,
                            occurred_at=now,
                            recorded_at=now,
                            kind="delivery_failed",
                            text=error[:500],
                            source="system",
                            data={"op": op.id, "kind": op.kind},
                        )
                    )

        await asyncio.to_thread(work)

    def _release(self, op_ids: list[int]) -> None:
        with transaction(self.sessions) as session:
            outbox.release(session=session, op_ids=op_ids, now=self.clock.now())

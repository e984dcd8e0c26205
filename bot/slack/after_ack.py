"""Work a listener does after Slack has its answer: a task of its own, or inline in replays."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class AfterAck:
    """Run listeners' post-ack work as tracked tasks, so the HTTP answer goes out at the ack.

    Bolt's own "ack, then work" mode answers by polling for the ack every 10 ms; handing the
    work to a task and returning answers at once. `inline` (replays) awaits the work before
    the answer instead, so each step's effects are in before the next step is sent.
    """

    def __init__(self, *, inline: bool = False) -> None:
        self.inline = inline
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, work: Coroutine[Any, Any, Any]) -> None:
        """Start `work` (or, inline, run it to the end)."""
        if self.inline:
            await work
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def drain(self) -> None:
        """Wait for the work already started: on shutdown, the commands Slack was told were
        received get recorded."""
        if self._tasks:
            log.info("waiting for the work of %d acknowledged Slack requests", len(self._tasks))
            await asyncio.wait(set(self._tasks))

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("a Slack listener failed after its ack", exc_info=error)

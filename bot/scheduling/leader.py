"""Leader election over a PostgreSQL advisory lock: exactly one replica runs the scheduler.

The lock alone does not fence: the database can cut the connection holding it (a restart,
`pg_terminate_backend`, an idle timeout) while the process goes on firing jobs until its
next check, and another replica takes over meanwhile. Each takeover therefore starts a new
epoch (storage/leadership.py), handed to `on_elected`; jobs commit only under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from storage import leadership

log = logging.getLogger(__name__)
LOCK_KEY = 0x57415252  # "WARR"


def schema_key(schema: str) -> int:
    """The second lock key: the schema's name as a stable signed 32-bit number.

    Advisory locks belong to the whole database, while warroom's tables (and APScheduler's
    job store) live in one schema: two deployments, or two test runs, in different schemas
    of one database must each elect their own leader instead of starving each other.
    """
    value = zlib.crc32(schema.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class AdvisoryLeader:
    """Holds `pg_try_advisory_lock` on a dedicated connection while this process leads.

    The lock dies with the connection, so a killed leader frees it at once and the next
    replica to try takes over.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        on_elected: Callable[[int], None],
        on_lost: Callable[[], None],
        interval: float = 2.0,
    ) -> None:
        self.engine = engine
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.interval = interval
        self._connection: Connection | None = None
        self._keys: dict[str, int] | None = None
        self.epoch: int | None = None  # the fencing token of this process's leadership

    @property
    def leading(self) -> bool:
        """Whether this process holds the lock."""
        return self._connection is not None

    def _try_acquire(self) -> bool:
        connection = None
        try:
            connection = self.engine.connect()
            schema = connection.execute(text("SELECT current_schema()")).scalar() or "public"
            keys = {"k": LOCK_KEY, "s": schema_key(schema)}
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k, :s)"), keys).scalar()
            connection.commit()
            if got:
                # A new epoch, or no leadership: closing the connection frees the lock.
                holder = f"{socket.gethostname()}:{os.getpid()}"
                self.epoch = leadership.take_over(
                    connection=connection, holder=holder, now=datetime.now(UTC)
                )
                connection.commit()
                self._connection, self._keys = connection, keys
                return True
        except Exception:
            log.warning("leader election: database unreachable", exc_info=True)
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
        return False

    def _still_holding(self) -> bool:
        assert self._connection is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
            return False

    async def run(self) -> None:
        """Try for the lock until cancelled; hand leadership in and out through the callbacks."""
        try:
            while True:
                if self._connection is None:
                    if await self._off_loop(self._try_acquire):
                        log.info("leader election: this process leads, epoch %s", self.epoch)
                        assert self.epoch is not None
                        self.on_elected(self.epoch)
                elif not await self._off_loop(self._still_holding):
                    log.warning("leader election: lost the lock")
                    self.on_lost()
                await asyncio.sleep(self.interval)
        finally:
            self.release()

    @staticmethod
    async def _off_loop(work: Callable[[], bool]) -> bool:
        """`work` in a thread. Cancelled meanwhile, it still waits for the thread to end: the
        connection is not for two threads at once, and `release` uses it next."""
        done = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await done
            raise

    def release(self) -> None:
        """Give the lock up (shutdown)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:k, :s)"), self._keys)
                self._connection.commit()
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

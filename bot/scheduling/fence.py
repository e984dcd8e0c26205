"""Fencing the scheduler's jobs: a job commits its effects only while its process leads.

The leader lock can be cut by the database without the process knowing for a moment;
meanwhile another replica takes over and starts a new epoch. A job's transaction first
locks the leader row and compares epochs, and keeps the row locked until it commits, so
a takeover waits for it: of two replicas firing the same job, only the current leader's
effects commit, and the other one's transaction writes nothing.

On SQLite one process runs the scheduler by itself (no leader lock, no other replica to
fence out: SQLite takes one writer at a time and warroom runs one process on it), and a
replay fires jobs itself: with no epoch, every job is admitted.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from storage import leadership


class Fence:
    """This process's fencing token as its jobs see it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.epoch: int | None = None

    def admits(self, session: Session) -> bool:
        """Whether a job may commit in `session`'s transaction (the leader row stays locked
        until that transaction ends)."""
        if self.epoch is None:
            return True
        return leadership.holds(session=session, epoch=self.epoch)

    def stale(self) -> bool:
        """Whether another replica has taken over since this one was elected (an unlocked
        look, before taking due jobs out of the shared store); raises when the database
        cannot say."""
        if self.epoch is None:
            return False
        with self.engine.connect() as connection:
            return leadership.current(connection=connection) != self.epoch

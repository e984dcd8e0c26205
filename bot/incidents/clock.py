"""Clocks: the domain asks one for the time so replays and tests are exact."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to: replays and tests drive it; a queued command
    runs on one stopped at the instant it arrived."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._set_at = time.monotonic()

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Move to an absolute time (never backwards)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {when}")
        self._now = when
        self._set_at = time.monotonic()

    def drifting(self) -> Clock:
        """A view that runs on in real time from the last simulated instant.

        Background work that waits (outbox retries) needs time to pass between simulated
        steps; the steps themselves keep the exact simulated times.
        """
        return _Drifting(self)

    def advance(self, delta: timedelta) -> None:
        """Move forward by delta."""
        self.set(self._now + delta)


class _Drifting:
    def __init__(self, base: SimulatedClock) -> None:
        self.base = base

    def now(self) -> datetime:
        return self.base._now + timedelta(seconds=time.monotonic() - self.base._set_at)

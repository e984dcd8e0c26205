"""Clocks: the domain asks one for the time so replays and tests are exact."""

from __future__ import annotations

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
    """A clock that only moves when told to: replays and tests drive it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Move to an absolute time (never backwards)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {when}")
        self._now = when

    def advance(self, delta: timedelta) -> None:
        """Move forward by delta."""
        self.set(self._now + delta)

"""How a handler tells the dispatcher what became of an operation it could not carry out.

Every handler speaks this one pair, whatever far side it talks to; any other exception
is taken as "try again with backoff" (a network error, a bug fixed by a deploy).
"""

from __future__ import annotations


class GiveUp(Exception):
    """No retry can fix this (a bad key, a refused request): fail the operation for good."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(Exception):
    """The far side is busy or down: retry after `delay_seconds` (None: the usual backoff)."""

    def __init__(self, reason: str, delay_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_seconds = delay_seconds

"""How an integration tells the dispatcher to try again later, or never again."""

from __future__ import annotations

from bot.slack.errors import PermanentError


class RetryLater(Exception):
    """The far side is busy or down: retry after `delay_seconds` (None: the usual backoff)."""

    def __init__(self, delay_seconds: float | None, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.reason = reason


class Refused(PermanentError):
    """The far side rejected the request in a way no retry can fix (bad key, bad event)."""

"""Handlers for effect kinds whose integration is not configured (or not built yet).

They complete the operation with a note instead of failing it, so an incident's chain of
Slack operations is never held up behind an integration the team does not use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.incidents import effects

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def skipped(reason: str) -> Handler:
    """A handler that records why nothing was sent."""

    async def handle(_payload: dict[str, Any]) -> dict[str, Any]:
        return {"skipped": reason}

    return handle


def deferred_handlers() -> dict[str, Handler]:
    """Handlers for every non-Slack kind, each completing with the reason it was skipped."""
    return {
        effects.PAGE: skipped("PagerDuty paging is not configured"),
        effects.STATUSPAGE: skipped("Statuspage is not configured"),
        effects.WEBHOOK: skipped("no outgoing webhooks are configured"),
        effects.SCHEDULE: skipped("the scheduler is not running"),
        effects.UNSCHEDULE: skipped("the scheduler is not running"),
    }

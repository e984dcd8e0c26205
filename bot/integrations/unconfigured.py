"""Handlers for effect kinds whose integration is not configured (or not built yet).

They complete the operation with a note instead of failing it, so an incident's chain of
Slack operations is never held up behind an integration the team does not use.
"""

from __future__ import annotations

from typing import Any

from bot.incidents.effects import (
    Effect,
    Page,
    PublishMaintenance,
    Schedule,
    SendWebhook,
    Unschedule,
    UpdateStatusPage,
)
from bot.integrations.page_outcomes import IN_REPLAY, NOT_CONFIGURED, not_paged
from bot.integrations.statuspage import statuspage_remarks
from bot.outbox.routes import Attempt, Remarks, Route


def skipped(reason: str, remarks: Remarks[Any] | None = None) -> Route[Any]:
    """A route that records why nothing was sent (and, with `remarks`, tells it)."""

    async def handle(_effect: Effect, _attempt: Attempt) -> dict[str, Any]:
        return {"skipped": reason}

    return Route(handle, remarks=remarks)


def unconfigured_routes(*, replay: bool = False) -> dict[type[Effect], Route[Any]]:
    """Routes for every non-Slack effect, each completing with the reason it was skipped
    (`replay`: a replay's, which sends nothing whatever is configured)."""
    unpaged = not_paged(IN_REPLAY, record=False) if replay else not_paged(NOT_CONFIGURED)
    return {
        # A page nobody receives is said in the channel, so nobody waits for an on-call.
        Page: skipped("PagerDuty paging is not configured", unpaged),
        UpdateStatusPage: skipped("Statuspage is not configured", statuspage_remarks),
        PublishMaintenance: skipped("Statuspage is not configured"),
        SendWebhook: skipped("no outgoing webhooks are configured"),
        Schedule: skipped("the scheduler is not running"),
        Unschedule: skipped("the scheduler is not running"),
    }

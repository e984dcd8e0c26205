"""Slack's `app_rate_limited` event: acknowledged and logged, never left unanswered.

Slack sends it to the Request URL when the app passes 30,000 events an hour in a workspace
(docs.slack.dev/reference/events/app_rate_limited). It has no inner event, so no Bolt event
listener matches it; unanswered, Bolt says 404, and Slack counts answers other than 200
toward turning the app's event subscriptions off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


async def acknowledge_app_rate_limited(
    body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse]]
) -> BoltResponse:
    """A Bolt middleware: answer 200 to app_rate_limited with a warning; pass the rest on."""
    if body.get("type") != "app_rate_limited":
        return await next()
    log.warning(
        "Slack app_rate_limited: events for team %s are being dropped since minute %s "
        "(more than 30,000 an hour)",
        body.get("team_id"),
        body.get("minute_rate_limited"),
    )
    return BoltResponse(status=200, body="")

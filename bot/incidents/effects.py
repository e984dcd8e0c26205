"""Effects: the external work a state change causes, carried out later by the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Effect kinds. The Slack adapter handles the chat ones, integrations the rest.
OPEN_CHANNEL = "channel.open"
INVITE = "channel.invite"
POST_CARD = "card.post"
UPDATE_CARD = "card.update"
POST_MESSAGE = "message.post"
BROADCAST = "broadcast.post"
PAGE = "pagerduty.event"
STATUSPAGE = "statuspage.update"
WEBHOOK = "webhook.send"
POST_POSTMORTEM = "postmortem.post"
SCHEDULE = "schedule.set"
UNSCHEDULE = "schedule.clear"


@dataclass(frozen=True)
class Effect:
    """One operation for the outbox: a kind and a JSON-able payload."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


# The dispatcher hands each handler its operation's id under this payload key: a stable id
# for deliveries that the far side deduplicates (webhooks).
OP_ID = "_op_id"
# ...and says whether an earlier attempt may have got part of the way (a retry, or work
# resumed from a crashed worker), so a handler can look for what that attempt left.
OP_RESUMED = "_op_resumed"

# Each third party gets a lane of its own: one that is down holds up only itself.
LANES = {PAGE: "pagerduty", STATUSPAGE: "statuspage", WEBHOOK: "webhook"}


def lane_of(kind: str) -> str:
    """The outbox lane an effect kind runs in."""
    return LANES.get(kind, "main")

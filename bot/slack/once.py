"""At most once on Slack: every message an outbox operation posts carries the operation's id
in its message metadata, and a retry looks for it before posting again.

Slack has no idempotency key. A retry that follows an ambiguous failure (the client timed
out while Slack posted anyway; the process died between Slack's answer and its record)
would post a second copy; instead it reads the channel's recent history and, when a
message of ours names the operation, takes that message's ts as the result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.outbox.errors import RetryLater
from bot.outbox.routes import Attempt

T = TypeVar("T")

# Slack's message metadata (docs.slack.dev/messaging/message-metadata): an event type and a
# free-form payload, returned by conversations.history with include_all_metadata=true.
EVENT_TYPE = "warroom_outbox_op"
# Clocks differ (ours stamps the operation, Slack's the message): look a little further back.
CLOCK_MARGIN = timedelta(minutes=2)
PAGE = 200  # messages per history page (Slack allows up to 999)
MAX_PAGES = 5  # the window is bounded even in a busy channel


def metadata(op_ids: Sequence[int]) -> dict[str, Any]:
    """The metadata naming the operations one message carries out (several: grouped echoes)."""
    # A string, not a list: Slack's payload schema takes arrays of objects only.
    return {"event_type": EVENT_TYPE, "event_payload": {"ops": " ".join(map(str, op_ids))}}


def names(message: dict[str, Any], op_id: int) -> bool:
    """Whether a message from the history carries out operation `op_id`."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") != EVENT_TYPE:
        return False
    ops = (meta.get("event_payload") or {}).get("ops")
    return isinstance(ops, str) and str(op_id) in ops.split()


async def answered(client: AsyncWebClient, call: Awaitable[T]) -> T:
    """Slack's answer to a call that posts; a timeout is retried no sooner than one more
    client timeout from now.

    Slack may still be carrying out a call it was slow to answer: looking for the message
    at once would miss it and post it a second time.
    """
    try:
        return await call
    except TimeoutError as error:
        raise RetryLater("Slack did not answer in time", float(client.timeout)) from error


def shares_file(name: str) -> Callable[[dict[str, Any]], bool]:
    """Whether a message from the history shares a file called `name` (an upload carries no
    metadata: its file name marks it instead)."""

    def matches(message: dict[str, Any]) -> bool:
        return any(file.get("name") == name for file in message.get("files") or [])

    return matches


async def already_posted(
    client: AsyncWebClient,
    channel: str,
    attempt: Attempt,
    matches: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """The message an earlier attempt of this operation posted, if any: one whose metadata
    names the operation, or that `matches`.

    Only a resumed attempt looks: a first attempt cannot have posted anything yet, and the
    look costs a history call.
    """
    if not attempt.resumed:
        return None
    oldest = None
    if attempt.created_at is not None:
        oldest = f"{(attempt.created_at - CLOCK_MARGIN).timestamp():.6f}"
    cursor = None
    for _ in range(MAX_PAGES):
        response = await client.conversations_history(
            channel=channel, oldest=oldest, limit=PAGE, include_all_metadata=True, cursor=cursor
        )
        messages: list[dict[str, Any]] = response.get("messages", [])
        for message in messages:
            if matches(message) if matches is not None else names(message, attempt.op_id):
                return message
        more: dict[str, Any] = response.get("response_metadata") or {}
        cursor = more.get("next_cursor")
        if not cursor:
            break
    return None

"""Slack's length limits, met before a message is sent: cut with a visible "…", never refused.

The limits are Slack's documented ones: 40,000 characters of message text (chat.postMessage),
3,000 for a section's text and any text object, 2,000 for each section field, 150 for a
header's plain_text, 75 for a button's label, 50 blocks in a message and 100 in a view,
24 for a modal's title, 250 for a channel's topic (docs.slack.dev/reference). Should
Slack still answer `msg_too_long` or `invalid_blocks` (it may count differently from us),
the message is cut to a quarter of each limit and sent once more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack.errors import Refusal, classify
from bot.slack.escape import truncate

TEXT_MAX = 40_000
TEXT_OBJECT_MAX = 3000
FIELD_MAX = 2000
CONTEXT_MAX = TEXT_OBJECT_MAX  # each of a context block's text elements
HEADER_MAX = 150
BUTTON_MAX = 75
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100  # a modal or the App Home
VIEW_TITLE_MAX = 24  # a modal's title, submit and close
TOPIC_MAX = 250  # a channel's topic and purpose (conversations.setTopic, setPurpose)
# The second try: small enough for any way of counting (bytes, UTF-16 units, entities).
TIGHTER = 4


def fit_text(text: str | None, limit: int = TEXT_MAX, *, divide: int = 1) -> str:
    """Message text cut to Slack's limit (divided by `divide` for a second try)."""
    return truncate(text or "", limit // divide)


def fit_blocks(
    blocks: list[dict[str, Any]], *, divide: int = 1, most: int = MESSAGE_BLOCKS_MAX
) -> list[dict[str, Any]]:
    """A copy of the blocks (at most `most` of them) with every text cut to its limit."""
    return [_fit_block(block, divide) for block in blocks[:most]]


def _fit_block(block: dict[str, Any], divide: int) -> dict[str, Any]:
    block = dict(block)
    kind = block.get("type")
    if kind == "header":
        block["text"] = _fit(block.get("text"), HEADER_MAX, divide)
    elif kind == "section":
        if "text" in block:
            block["text"] = _fit(block["text"], TEXT_OBJECT_MAX, divide)
        if "fields" in block:
            block["fields"] = [_fit(f, FIELD_MAX, divide) for f in block["fields"][:10]]
    elif kind == "context":
        block["elements"] = [_fit(e, CONTEXT_MAX, divide) for e in block.get("elements", [])[:10]]
    elif kind == "actions":
        block["elements"] = [_fit_element(e, divide) for e in block.get("elements", [])]
    return block


def _fit_element(element: Any, divide: int) -> Any:
    if isinstance(element, dict) and element.get("type") == "button":
        return {**element, "text": _fit(element.get("text"), BUTTON_MAX, divide)}
    return element


def _fit(obj: Any, limit: int, divide: int) -> Any:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return {**obj, "text": truncate(obj["text"], limit // divide)}
    return obj


async def send_fitted(
    call: Callable[..., Awaitable[Any]],
    *,
    text: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    **arguments: Any,
) -> Any:
    """`call` (chat.postMessage, chat.update) with text and blocks within Slack's limits;
    cut tighter and sent once more if Slack still finds them too long."""
    for divide in (1, TIGHTER):
        fitted: dict[str, Any] = {"text": fit_text(text, divide=divide)}
        if blocks is not None:
            fitted["blocks"] = fit_blocks(blocks, divide=divide)
        try:
            return await call(**arguments, **fitted)
        except SlackApiError as error:
            if divide == TIGHTER or classify(error) is not Refusal.FIX:
                raise
    raise AssertionError("unreachable")  # pragma: no cover

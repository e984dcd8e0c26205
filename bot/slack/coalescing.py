"""The Slack routes' coalescing hooks: fewer calls for the same picture in the channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.incidents.effects import DescribeChannel, Effect, PostMessage, UpdateCard
from bot.outbox.routes import Superseded, Together

MAX_GROUP = 20  # echoes one message carries at most
# Text a group of echoes carries at most (one long echo still goes alone): a message stays
# readable, and far from the length where Slack would cut it.
MAX_GROUP_TEXT = 4000


def supersede_redraw(_effect: UpdateCard, following: Sequence[Effect | None]) -> Superseded | None:
    """A later redraw in the chain shows everything this one would: skip a Slack call."""
    if any(isinstance(later, UpdateCard) for later in following):
        return Superseded()
    return None


def supersede_description(
    _effect: DescribeChannel, following: Sequence[Effect | None]
) -> Superseded | None:
    """A later topic and purpose in the chain replace this one's: skip its calls (and the
    lines each change posts in the channel)."""
    if any(isinstance(later, DescribeChannel) for later in following):
        return Superseded()
    return None


def group_echoes(effect: PostMessage, following: Sequence[Effect | None]) -> Together | None:
    """Consecutive commands' echoes go out as one message (other messages, a stage's
    checklist say, read better on their own)."""
    if not effect.actor:
        return None
    size, count = len(effect.text or ""), 1
    for later in following[: MAX_GROUP - 1]:
        if not isinstance(later, PostMessage) or not later.actor:
            break
        size += len(later.text or "")
        if size > MAX_GROUP_TEXT:  # that one starts the next message
            break
        count += 1
    return Together(count) if count > 1 else None

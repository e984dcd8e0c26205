"""Posts paced per channel, as Slack paces them, so that many at once queue here instead of
meeting 429s together.

Slack allows `chat.postMessage` about one message a second per channel, with short bursts
(docs.slack.dev/apis/web-api/rate-limits, "Posting messages"). Twenty incidents opening at
once each post to the broadcast channel: unpaced, the posts past the burst were answered 429,
slept the same `Retry-After` side by side and came back together, to be refused again, and
each retried operation then read the channel's history for what it might have posted (the
alert_to_channel bench: 29 refusals and 7 history reads over 50 incidents). One process's
posts to a channel now take turns; a refusal still gets slack-sdk's retry and the outbox's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

PACED_METHODS = frozenset({"chat.postMessage"})
POST_INTERVAL = 1.1  # seconds: about one post a second in a channel, and room for jitter
POST_BURST = 5  # posts a channel takes at once before the pace applies (as the sandbox)
_FORGET_AFTER = 1024  # channels remembered before the idle ones are dropped


class ChannelPace:
    """A turn per channel: `burst` at once, then one every `interval` seconds (GCRA).

    `enabled` is asked at each turn: the local sandbox's limits can be switched off (for a
    test that needs bursts), and then its posts need no pace either."""

    def __init__(
        self,
        interval: float = POST_INTERVAL,
        burst: int = POST_BURST,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self.interval = interval
        self.burst = burst
        self.enabled = enabled
        self._next: dict[str, float] = {}  # channel: when its bucket would next be empty

    async def turn(self, channel: str) -> None:
        """Wait for the channel's next free turn (taken at once, so waiters queue in order)."""
        if not self.enabled():
            return
        now = asyncio.get_running_loop().time()
        due = max(self._next.get(channel, now), now)
        self._next[channel] = due + self.interval
        if len(self._next) > _FORGET_AFTER:
            self._next = {key: at for key, at in self._next.items() if at > now}
        wait = due - (self.burst - 1) * self.interval - now
        if wait > 0:
            await asyncio.sleep(wait)


class PacedWebClient(AsyncWebClient):
    """An AsyncWebClient whose posts take turns per channel (see `ChannelPace`)."""

    def __init__(self, *args: Any, pace: ChannelPace | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pace = pace or ChannelPace()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if api_method in PACED_METHODS:
            channel = _channel(kwargs)
            if channel:
                await self.pace.turn(channel)
        return await super().api_call(api_method, **kwargs)


def _channel(call: dict[str, Any]) -> str | None:
    # slack-sdk's methods send their arguments as `json` (chat.postMessage) or form `params`.
    for part in ("json", "params", "data"):
        arguments = call.get(part)
        if isinstance(arguments, dict) and arguments.get("channel"):
            return str(arguments["channel"])
    return None

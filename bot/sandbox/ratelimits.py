"""Slack's Web API rate limits: each method's tier per token, and posts per channel.

From docs.slack.dev/apis/web-api/rate-limits: limits apply "per API method per workspace per
app", in tiers of about 1, 20, 50 and 100 calls a minute with bursts tolerated, and
chat.postMessage allows about one message per second per channel, with short bursts. Beyond
them Slack answers HTTP 429 `{"ok": false, "error": "ratelimited"}` with `Retry-After`
seconds.

Each budget is a token bucket: a full minute's worth (the burst) refilled evenly, keyed on
the calling token, so a person's own client (a sandbox user's token) never spends the app's.
Time is real time by default, not the sandbox clock: a replay stops that clock while the
client waits out Retry-After in real seconds. A replay passes a timer that jumps with its
steps and runs on in real time between them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# Each method's tier, from its docs.slack.dev/reference/methods/<method> page ("Rate limits").
# auth.test and chat.getPermalink are "Special" there, allowing hundreds a minute: tier 4.
TIERS: dict[str, int] = {
    "auth.test": 4,
    "bookmarks.add": 2,
    "bookmarks.list": 3,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.kick": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.open": 3,
    "conversations.replies": 3,
    "conversations.setPurpose": 2,
    "conversations.setTopic": 2,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "files.info": 4,
    "pins.add": 2,
    "pins.list": 2,
    "pins.remove": 2,
    "reactions.add": 3,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "users.conversations": 2,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
}
# chat.postMessage's own rule: one message a second in a channel, a short burst allowed.
POST_METHOD = "chat.postMessage"
POSTS_PER_SECOND = 1.0
POST_BURST = 5


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """Token buckets per (token, method) and per (token, channel) for chat.postMessage."""

    def __init__(self, *, enabled: bool = True, timer: Callable[[], float] = time.monotonic):
        self.enabled = enabled
        self._timer = timer
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, token: str | None, method: str, channel: str | None = None) -> int | None:
        """Spend one call of the token's budget; the Retry-After seconds when it is empty."""
        if not self.enabled:
            return None
        if method == POST_METHOD:
            key, capacity, rate = (f"{token}", f"post:{channel}"), POST_BURST, POSTS_PER_SECOND
        else:
            per_minute = PER_MINUTE[TIERS[method]]
            key, capacity, rate = (f"{token}", method), per_minute, per_minute / 60
        now = self._timer()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(capacity), now))
            elapsed = max(0.0, now - bucket.at)  # a replay's clock may step back a little
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.at = max(now, bucket.at)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return max(1, math.ceil((1 - bucket.tokens) / rate))

    def reset(self) -> None:
        """Forget what was spent: every budget is full again."""
        with self._lock:
            self._buckets.clear()

"""Slack's request signature checked before Bolt sees a request, malformed headers included.

Bolt's own check turns a timestamp that is not a number, or a signature with non-ASCII
characters, into an exception (a 500 and a traceback per request), and logs the body of
every refused request. Here each of those is a 401 with a JSON reason, and nothing is logged.
https://docs.slack.dev/authentication/verifying-requests-from-slack/
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
MAX_AGE = 300  # seconds: Slack's own window
_V0 = re.compile(r"v0=[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")


class SlackSignatures:
    """Verify Slack's v0 signature; `refusal` says why a request is not Slack's, else None."""

    def __init__(self, signing_secret: str, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._now = now

    def refusal(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The reason to answer 401, or None when the signature verifies."""
        timestamp = headers.get(TIMESTAMP)
        signature = headers.get(SIGNATURE)
        if not timestamp or not signature:
            return f"{TIMESTAMP} and {SIGNATURE} are required"
        # fullmatch on ASCII classes: int() would take "١٢٣" and " 12", compare_digest no "é".
        if not _DIGITS.fullmatch(timestamp):
            return f"{TIMESTAMP} is not a Unix time in seconds"
        if not _V0.fullmatch(signature):
            return f"{SIGNATURE} is not v0= and 64 hex digits"
        if abs(self._now() - int(timestamp)) > MAX_AGE:
            return f"{TIMESTAMP} is more than 5 minutes off"
        # Over the raw bytes: a body that is not UTF-8 is refused, not a decoding error.
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return f"{SIGNATURE} does not verify"
        return None

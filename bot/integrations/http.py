"""The one HTTP client the integrations share, and how their answers are classified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

USER_AGENT = "warroom/0.1"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=30.0)
# A Retry-After beyond this is treated as this: an incident cannot wait a day for its page.
MAX_RETRY_AFTER = 3600.0
# Statuspage answers 420 as well as 429 when a token goes over its rate limit.
RATE_LIMITED = frozenset({420, 429})


def make_client() -> httpx.AsyncClient:
    """Build the shared client; the app closes it on shutdown (`await client.aclose()`)."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        limits=LIMITS,
        headers={"User-Agent": USER_AGENT},
        # A redirect would resend a signed body or a key to a host nobody configured.
        follow_redirects=False,
    )


@dataclass(frozen=True)
class Verdict:
    """What one HTTP exchange came to: delivered, worth retrying, or refused for good.

    `detail` is what the timeline may show; `said` is the far side's own words, which can
    echo our request (a routing key, a token) and so go to the (redacted) log only.
    """

    outcome: str  # ok | retry | refused
    detail: str  # "HTTP 202", "HTTP 503", "timeout"
    delay: float | None = None  # seconds the far side asked us to wait
    said: str = ""  # "Event object is invalid": for the log, never the timeline

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def judge(response: httpx.Response) -> Verdict:
    """Classify a response: 2xx ok; 408, 420/429 and 5xx retry; any other 4xx refused."""
    status = response.status_code
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return Verdict("ok", detail)
    said = error_message(response)
    if status in RATE_LIMITED:
        return Verdict("retry", detail, retry_after(response), said=said)
    if status == 408 or status >= 500:
        return Verdict("retry", detail, said=said)
    return Verdict("refused", detail, said=said)


def judge_error(error: httpx.HTTPError) -> Verdict:
    """Classify a request that got no answer: every transport failure is worth a retry."""
    if isinstance(error, httpx.TimeoutException):
        return Verdict("retry", "timeout", said=str(error))
    return Verdict("retry", "connection error", said=str(error))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def error_message(response: httpx.Response, limit: int = 300) -> str:
    """The far side's own words for an error, from the usual JSON shapes, else the text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:limit]
    if not isinstance(body, dict):
        return str(body)[:limit]
    parts: list[str] = []
    for key in ("message", "error", "errors"):
        value = body.get(key)
        if isinstance(value, list):
            parts.extend(str(item) for item in value)
        elif value:
            parts.append(str(value))
    return "; ".join(dict.fromkeys(parts))[:limit]

"""What the tracker webhook readers share: a header by any case, an HMAC compared in
constant time, the body read as a JSON object, a tracker's timestamps read as UTC."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.integrations.trackers.base import WebhookRefused


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (Starlette's headers already
    ignore it; a plain dict from a test or another server does not)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, item in headers.items():
        if key.lower() == wanted:
            return item
    return None


def hmac_sha256_hex(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of the raw body: what GitHub, Jira and Linear each sign."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def same(presented: str, expected: str) -> bool:
    """Compare in constant time, on bytes (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def require_secret(secret: str, tracker: str) -> bytes:
    """The secret as bytes; an empty one would let anybody sign, so it is refused."""
    if not secret:
        raise ValueError(f"the {tracker} webhook secret is empty")
    return secret.encode("utf-8")


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why not."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookRefused(400, "the body is not JSON") from error
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "the body is not a JSON object")
    return payload


def dig(value: Any, *path: str) -> Any:
    """`value[a][b]...`, or None as soon as a step is not an object holding the key."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time ("2021-07-05T18:07:10Z") as aware UTC; None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def epoch_ms(value: Any) -> datetime | None:
    """Milliseconds since the epoch as aware UTC; None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None

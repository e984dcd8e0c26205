"""Pydantic field types shared by the alert source models."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

# Go's RFC 3339 timestamps carry up to nine fractional digits; datetime holds six.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp, truncating sub-microsecond digits."""
    if "." not in value and value[:1].isdigit() and value[-1:].isalnum():
        # No fraction to cut and no space to strip (Go's zero time, whole seconds): the
        # regex below would leave the text as it is, at several times the parse's cost.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # refused below, with the same message
    text = _FRACTION.sub(r"\1", value.strip(), count=1)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None


def _before_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        return parse_timestamp(value)
    return value


def _require_offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("timestamp needs a UTC offset (e.g. 'Z' or '+08:00')")
    # pydantic's own tzinfo (from epoch numbers) is swapped for the stdlib one so that
    # every datetime leaving this package compares, pickles and formats the same way.
    if not isinstance(value.tzinfo, timezone):
        value = value.replace(tzinfo=timezone(offset))
    return value


def _go_zero_to_none(value: datetime | None) -> datetime | None:
    # Go marshals an unset time.Time as "0001-01-01T00:00:00Z".
    if value is not None and value.year == 1:
        return None
    return value


# Python (and so both databases through us) holds years 1 to 9999; a day's margin on each
# side keeps the time shown in any zone, and a stage's timebox added to it, inside them.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _storable(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in the year 10000 in UTC
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ValueError(
            f"time {value.isoformat()} is out of range: "
            f"use one between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        )
    return value


_Aware = Annotated[datetime, BeforeValidator(_before_timestamp), AfterValidator(_require_offset)]

Timestamp = Annotated[_Aware, AfterValidator(_storable)]
"""An aware datetime that can be stored and shown; nanoseconds are truncated to microseconds."""

GoTimestamp = Annotated[_Aware | None, AfterValidator(_go_zero_to_none), AfterValidator(_storable)]
"""A Timestamp where Go's zero time means unset (None)."""


def to_text(value: Any) -> str:
    """Render a JSON scalar or structure as label text, the way a human would write it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _coerce_text_map(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, dict):
        for key, item in value.items():
            if key.__class__ is not str or item.__class__ is not str:
                return {str(k): to_text(v) for k, v in value.items()}
        return value  # text already, as most labels are: nothing to copy
    return value  # let pydantic report "Input should be a valid dictionary"


TextMap = Annotated[dict[str, str], BeforeValidator(_coerce_text_map)]
"""A string-to-string map; non-string values become text, null becomes {}."""


def label_fingerprint(labels: dict[str, str], title: str = "") -> str:
    """Return a stable 16-hex-digit fingerprint of a label set (and title).

    Independent of key order and of the process (no `hash()` randomisation).
    """
    canonical = json.dumps(
        [title, sorted(labels.items())], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def sender_group_key(external_url: str | None, group_key: str | None) -> str | None:
    """The sender's group key qualified by the address of the instance that sent it.

    Two Alertmanager (or Grafana) clusters with the same routing give the same groupKey;
    their `externalURL`s tell them apart, so their groups never share an incident.
    """
    if not group_key:
        return None
    where = (external_url or "").strip().rstrip("/")
    return f"{where} {group_key}" if where else group_key

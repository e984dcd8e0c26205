"""What an operator is told of a body refused for its size: which sender, how big, which group.

Alertmanager retries only 5xx and 429, so a notification refused 413 is gone for good: the
log line is all that is left of it. The group key is read from the bytes the guard kept of
the body's start and end (Alertmanager and Grafana write `groupKey` after the alerts, so it
is near the end), never by buffering the body.
"""

from __future__ import annotations

import json
import logging
import re

from bot.web.body import Refused

log = logging.getLogger(__name__)

ALERTS_PREFIX = "/alerts/"
KEY_SHOWN = 300  # characters of a group key written to the log
_GROUP_KEY = re.compile(rb'"groupKey"\s*:\s*("(?:[^"\\]|\\.){0,4000}")')


def group_key(refused: Refused) -> str | None:
    """The notification's `groupKey`, if the kept bytes hold it whole; else None."""
    for part in (refused.tail, refused.head):
        found = _GROUP_KEY.search(part)
        if found is None:
            continue
        try:
            value = json.loads(found.group(1))
        except ValueError:  # cut in the middle of an escape
            continue
        if isinstance(value, str):
            return value
    return None


def log_refused(refused: Refused) -> None:
    """Log a warning for a refused body: the alert source, its size and its group key."""
    size = f"{refused.size}" if refused.complete else f"at least {refused.size}"
    if not refused.path.startswith(ALERTS_PREFIX):
        log.warning(
            "refused a %s-byte body on %s from %s: over the %d-byte cap",
            size,
            refused.path,
            refused.client,
            refused.limit,
        )
        return
    source = refused.path.removeprefix(ALERTS_PREFIX).split("/", 1)[0]
    key = group_key(refused)
    # %r: the key is the sender's text, and must not start a log line of its own.
    log.warning(
        "refused a %s-byte %s notification from %s (group key %s): over "
        "WARROOM_MAX_ALERT_BODY (%d bytes); the sender will not retry a 413",
        size,
        source[:40],
        refused.client,
        repr(key[:KEY_SHOWN]) if key is not None else "unknown",
        refused.limit,
    )

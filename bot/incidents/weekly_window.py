"""The weekly stats' window and grouping as people write them (`--since 90d --by service`),
checked before anything is read; no database, so a command line can parse them cheaply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BY = ("severity", "service", "playbook")
DEFAULT_SINCE = "90d"
DEFAULT_BY = "severity"
_SINCE = re.compile(r"(\d{1,4})([dw])")


def parse_since(text: str) -> timedelta:
    """`90d` or `12w` as a duration; ValueError with the accepted forms otherwise."""
    found = _SINCE.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise ValueError(
            f"since must be a positive number of days or weeks, like 90d or 12w (got {text!r})"
        )
    count = int(found.group(1))
    return timedelta(days=count) if found.group(2) == "d" else timedelta(weeks=count)


def parse_by(text: str) -> str:
    """One of `BY`; ValueError naming them otherwise."""
    if text not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)} (got {text!r})")
    return text


@dataclass(frozen=True)
class WeeklyRequest:
    """Which window (`until - since` to `until`), grouped how, weeks in which zone."""

    until: datetime
    tz: ZoneInfo
    since: timedelta = timedelta(days=90)
    by: str = DEFAULT_BY

    @property
    def start(self) -> datetime:
        """The window's first moment."""
        return self.until - self.since

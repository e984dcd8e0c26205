"""Paging tools, both ways: the key warroom pages under, and what the tool tells us back.

warroom pages an incident under `page_key(id)` ("warroom-<id>"), and each later page under
a key of its own ("warroom-<id>-2", ...: see `bot.incidents.pages`). The paging
tool then reports on the incident it opened for that page, and on incidents of its own
that opened a warroom incident through an alert: each such report is a `PagingUpdate`,
whatever tool sent it, applied by `bot.incidents.pager_updates`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

PAGE_KEY_PREFIX = "warroom-"
_PAGE_KEY = re.compile(r"warroom-([1-9][0-9]{0,17})(?:-(?:[2-9]|[1-9][0-9]{1,8}))?")

UpdateKind = Literal[
    "triggered",
    "acknowledged",
    "unacknowledged",
    "annotated",
    "priority_updated",
    "escalated",
    "reassigned",
    "delegated",
    "reopened",
    "resolved",
]
UPDATE_KINDS: tuple[UpdateKind, ...] = get_args(UpdateKind)


def page_key(incident_id: int, page: int = 1) -> str:
    """The key of an incident's `page`-th page: the tool finds that alert by it.

    The first is "warroom-<id>", as it always was; a later one "warroom-<id>-<page>".
    """
    suffix = f"-{page}" if page > 1 else ""
    return f"{PAGE_KEY_PREFIX}{incident_id}{suffix}"


def paged_incident(key: str | None) -> int | None:
    """The warroom incident a page key names ("warroom-12" and "warroom-12-2" -> 12),
    None if it is not ours."""
    if not key:
        return None
    match = _PAGE_KEY.fullmatch(key.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class PagingUpdate:
    """An update from the paging tool about one of its incidents.

    `incident_id` is warroom's incident when the tool's incident is warroom's own page
    (its key is `page_key(incident_id)`); otherwise the update is about the tool's
    incident `external_id`, which warroom knows if that incident's alert opened one.
    `actor` is who did it as the tool names them; `text` is a note's content or who the
    incident went to; `severity` is what the tool's new priority means in warroom.
    """

    source: str  # the tool: "pagerduty"
    kind: UpdateKind
    at: datetime  # when it happened in the tool (aware)
    external_id: str  # the tool's incident id
    incident_id: int | None = None
    actor: str | None = None
    text: str | None = None
    severity: str | None = None
    priority: str | None = None  # the tool's own name for it ("P2")
    number: int | None = None  # the tool's incident number, as its people know it
    url: str | None = None

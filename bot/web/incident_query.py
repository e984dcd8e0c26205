"""The query strings of `GET /api/incidents` and `GET /api/incidents/{id}/timeline`: read
and checked in one place, each refusal a 422 naming its parameter, and the opaque cursor
that carries a page's end to the next."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.usecases.queries import EntryPosition, IncidentFilter, Position
from bot.web.errors import WebError
from storage.models import OPEN_STATUSES

STATUS_FILTERS = ("open", *OPEN_STATUSES, "resolved")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
DEFAULT_LIMIT = 100
LIST_LIMIT = 1000
PLAYBOOK_ID = re.compile(r"[a-z0-9-]{1,100}")
MAX_ID = 2**31 - 1  # incident ids are INTEGER columns
# What each parameter takes, as the OpenAPI schema and the refusals say it.
PARAMETERS = {
    "status": f"one of: {', '.join(STATUS_FILTERS)} ('open' = not resolved)",
    "severity": f"one of: {', '.join(SEVERITIES)}",
    "playbook": "a playbook id ([a-z0-9-]+)",
    "drill": "true (only drills) or false (no drills)",
    "since": "incidents opened at or after this time: ISO 8601 with an offset "
    "(2021-03-10T09:00:00Z)",
    "until": "incidents opened before this time: ISO 8601 with an offset",
    "cursor": "the next_cursor of the page before",
    "limit": f"incidents per page, 1 to {LIST_LIMIT} (default {DEFAULT_LIMIT})",
}
# A timeline page: enough for a whole ordinary incident in one read, and bounded for one
# with tens of thousands of entries (an alert storm's).
TIMELINE_DEFAULT_LIMIT = 500
TIMELINE_LIMIT = 1000
TIMELINE_PARAMETERS = {
    "cursor": "the next_cursor of the page before",
    "limit": f"entries per page, 1 to {TIMELINE_LIMIT} (default {TIMELINE_DEFAULT_LIMIT})",
    "last": f"only the last N entries, 1 to {TIMELINE_LIMIT}, in order (not with cursor or limit)",
}


@dataclass(frozen=True)
class ListQuery:
    """A list request: which incidents, how many, and after which one."""

    where: IncidentFilter
    limit: int
    after: Position | None


@dataclass(frozen=True)
class TimelineQuery:
    """A timeline request: the first `limit` entries after `after`, or the `last` ones."""

    limit: int
    after: EntryPosition | None
    last: int | None


def refuse(parameter: str, problem: str) -> WebError:
    """A 422 whose body names the parameter at fault."""
    return WebError(422, {"error": f"{parameter}: {problem}", "parameter": parameter})


def read_list_query(params: Sequence[tuple[str, str]]) -> ListQuery:
    """Read `GET /api/incidents`'s parameters (every pair, repeats included); WebError 422
    for an unknown parameter, a repeated one or a bad value."""
    values = _values(params, PARAMETERS)
    where = IncidentFilter(
        status=_one_of(values, "status", STATUS_FILTERS),
        severity=_one_of(values, "severity", SEVERITIES),
        playbook=_playbook(values),
        drill=_drill(values),
        since=_time(values, "since"),
        until=_time(values, "until"),
    )
    if where.since and where.until and where.until <= where.since:
        raise refuse("until", "must be later than since")
    cursor = _cursor(values)
    after = Position(*cursor) if cursor is not None else None
    return ListQuery(where, _limit(values, DEFAULT_LIMIT, LIST_LIMIT), after)


def read_timeline_query(params: Sequence[tuple[str, str]]) -> TimelineQuery:
    """Read `GET /api/incidents/{id}/timeline`'s parameters; WebError 422 for an unknown,
    repeated or bad one, and for `last` beside `cursor` or `limit`."""
    values = _values(params, TIMELINE_PARAMETERS)
    limit = _limit(values, TIMELINE_DEFAULT_LIMIT, TIMELINE_LIMIT)
    cursor = _cursor(values)
    if "last" not in values:
        return TimelineQuery(limit, EntryPosition(*cursor) if cursor else None, None)
    for other in ("cursor", "limit"):
        if other in values:
            raise refuse("last", f"cannot be combined with {other}: it reads the end")
    return TimelineQuery(limit, None, _limit(values, TIMELINE_LIMIT, TIMELINE_LIMIT, "last"))


def _values(params: Sequence[tuple[str, str]], known: Mapping[str, str]) -> dict[str, str]:
    """Each parameter's value, refusing an unknown or repeated one."""
    values: dict[str, str] = {}
    for name, value in params:
        if name not in known:
            raise refuse(name, f"unknown parameter; known: {', '.join(known)}")
        if name in values:
            raise refuse(name, "given more than once")
        values[name] = value
    return values


def _one_of(values: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    value = values.get(name)
    if value is not None and value not in allowed:
        raise refuse(name, f"{value!r} is not {PARAMETERS[name]}")
    return value


def _playbook(values: Mapping[str, str]) -> str | None:
    value = values.get("playbook")
    if value is not None and not PLAYBOOK_ID.fullmatch(value):
        raise refuse("playbook", f"{value!r} is not {PARAMETERS['playbook']}")
    return value


def _drill(values: Mapping[str, str]) -> bool | None:
    value = values.get("drill")
    if value is None:
        return None
    if value not in ("true", "false"):
        raise refuse("drill", f"{value!r} is not {PARAMETERS['drill']}")
    return value == "true"


def _time(values: Mapping[str, str], name: str) -> datetime | None:
    value = values.get(name)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise refuse(name, f"{value!r} has no offset; add Z or +HH:MM")
        return when.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise refuse(name, f"{value!r} is not an ISO 8601 time with an offset") from error


def _limit(values: Mapping[str, str], default: int, most: int, name: str = "limit") -> int:
    value = values.get(name)
    if value is None:
        return default
    # At most 4 digits: int() of a thousand-digit string costs, and is never a limit.
    if not value.isascii() or not value.isdigit() or len(value) > 4 or not 1 <= int(value) <= most:
        raise refuse(name, f"{value!r} is not a whole number from 1 to {most}")
    return int(value)


def encode_cursor(position: Position | EntryPosition) -> str:
    """An opaque cursor for the page after `position` (a list's or a timeline's)."""
    at = position.opened_at if isinstance(position, Position) else position.occurred_at
    raw = json.dumps({"at": at.isoformat(), "id": position.id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor(values: Mapping[str, str]) -> tuple[datetime, int] | None:
    value = values.get("cursor")
    if value is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        at = datetime.fromisoformat(raw["at"])
        number = raw["id"]
        if at.tzinfo is None or type(number) is not int or not 0 < number <= MAX_ID:
            raise ValueError("not a position")
        return at.astimezone(UTC), number
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error) as error:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise refuse("cursor", "not a cursor this API gave; start again without one") from error

"""Who a command names: a Slack user id, found from a mention or looked up by name.

Slack sends a person picked from the list as `<@U123|bob>` (the id is taken as is); a name
typed without picking (`@bob`, or `bob` for a role) is looked up with users.list, which the
bot's `users:read` scope allows. users.list is a Tier 2 method (about 20 calls a minute),
so the directory is read once and kept, and read again only when it is old or a name is
missing from a copy older than a minute (someone who just joined).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import slack_error

log = logging.getLogger(__name__)

KEEP_FOR = 600.0  # seconds a copy of the directory is used before it is read again
REREAD_AFTER = 60.0  # a name not found is looked for again in a copy at least this old
PAGE = 200  # Slack's advice for users.list pages


@dataclass(frozen=True)
class Person:
    id: str
    name: str


class UnknownPerson(LookupError):
    """No one (or more than one) in the workspace goes by what was typed; `str()` says so."""


class Directory:
    """The workspace's people, read from Slack sparingly and kept for a while."""

    def __init__(
        self, client: AsyncWebClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self._clock = clock
        self._by_name: dict[str, list[Person]] = {}
        self._names: dict[str, tuple[str, float]] = {}  # id -> name, when it was read
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def find(self, typed: str) -> Person:
        """The one person a typed name (with or without `@`) means; UnknownPerson if none
        or several."""
        name = typed.removeprefix("@")
        key = name.lower()
        if self._stale(KEEP_FOR):
            await self._read()
        matches = self._by_name.get(key)
        if not matches and self._stale(REREAD_AFTER):
            await self._read()
            matches = self._by_name.get(key)
        if not matches:
            raise UnknownPerson(
                f"Nobody in this workspace is called `@{name}`: type @ and pick them from the list"
            )
        if len(matches) > 1:
            raise UnknownPerson(
                f"More than one person is called `@{name}`: type @ and pick them from the list"
            )
        return matches[0]

    async def name_of(self, user_id: str) -> str | None:
        """A user's name (None: Slack could not say); UnknownPerson if Slack knows no such
        user."""
        known = self._names.get(user_id)
        if known is not None and self._clock() - known[1] < KEEP_FOR:
            return known[0]
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as error:
            if slack_error(error) == "user_not_found":
                raise UnknownPerson(f"Slack knows no person `{user_id}`") from error
            log.info("could not look up %s", user_id, exc_info=True)
            return None
        except Exception:  # a name is a nicety: never fail the command for it
            log.info("could not look up %s", user_id, exc_info=True)
            return None
        name = _name(response.get("user") or {})
        if name:
            self._names[user_id] = (name, self._clock())
        return name

    def _stale(self, age: float) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= age

    async def _read(self) -> None:
        async with self._lock:
            if not self._stale(1.0):  # read by another lookup while this one waited
                return
            by_name: dict[str, list[Person]] = {}
            cursor: str | None = None
            while True:
                response = await self.client.users_list(limit=PAGE, cursor=cursor)
                for member in response.get("members") or []:
                    _add(member, by_name)
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            now = self._clock()
            people = {person for found in by_name.values() for person in found}
            self._by_name = by_name
            self._names = {person.id: (person.name, now) for person in people}
            self._read_at = now


def _name(member: dict[str, Any]) -> str:
    profile = member.get("profile") or {}
    return str(member.get("name") or profile.get("display_name") or "")


def _add(member: dict[str, Any], by_name: dict[str, list[Person]]) -> None:
    if member.get("deleted") or not member.get("id"):
        return
    person = Person(member["id"], _name(member))
    profile = member.get("profile") or {}
    # The handle, and the display name people see in the client (what they would type).
    for key in {person.name.lower(), str(profile.get("display_name") or "").lower()} - {""}:
        found = by_name.setdefault(key, [])
        if person not in found:
            found.append(person)

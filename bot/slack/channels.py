"""Open incident channels and bring people in (the outbox's channel.open and channel.invite)."""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.effects import DescribeChannel, Invite, OpenChannel
from bot.incidents.notices import InviteRefused
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt, Remark
from bot.slack.errors import SKIP_ERRORS, slack_error
from bot.slack.escape import escape, truncate
from bot.slack.incident_rows import IncidentRows
from bot.slack.limits import TOPIC_MAX
from storage.models import Incident

LOOKUP_TTL = 300.0
# Refusals that mean the person is there already: nothing to tell anyone.
PRESENT = frozenset({"already_in_channel", "cant_invite_self"})


class ChannelOperations:
    """Create, describe and fill incident channels."""

    def __init__(self, client: AsyncWebClient, rows: IncidentRows) -> None:
        self.client = client
        self.rows = rows
        self._bot: str | None = None  # the bot's own user id ("" when Slack gave none)
        self._people: dict[str, tuple[float, list[str]]] = {}

    async def open_channel(self, effect: OpenChannel, attempt: Attempt) -> dict[str, Any]:
        """Create the incident channel (suffixing a taken name), describe it, invite people."""
        if effect.incident_id is None:
            raise GiveUp("channel.open names no incident")
        incident = await self.rows.incident(effect.incident_id)
        channel_id = incident.channel_id
        name = incident.channel_name or effect.name
        topic = truncate(escape(effect.topic), TOPIC_MAX)
        purpose = truncate(escape(effect.purpose), TOPIC_MAX)
        described: dict[str, Any] = {}
        if channel_id is not None:
            # A retry: an earlier attempt may have described the channel already, and each
            # setTopic posts a notice in the channel, so set only what is not set yet.
            described = (await self.client.conversations_info(channel=channel_id))["channel"]
        if channel_id is None:
            channel_id, name = await self._create(effect.name, effect.private, attempt.resumed)

            def keep(session: Session) -> None:
                row = session.get(Incident, incident.id)
                assert row is not None
                row.channel_id, row.channel_name = channel_id, name

            # Stored before anything else so a retry after a crash reuses this channel.
            await self.rows.db(keep)
        if (described.get("topic") or {}).get("value") != topic:
            await self.client.conversations_setTopic(channel=channel_id, topic=topic)
        if (described.get("purpose") or {}).get("value") != purpose:
            await self.client.conversations_setPurpose(channel=channel_id, purpose=purpose)
        invited = await self._invite(channel_id, list(effect.invite))
        return {"channel_id": channel_id, "name": name, **invited}

    async def describe(self, effect: DescribeChannel, _attempt: Attempt) -> dict[str, Any]:
        """Set the channel's topic and purpose to the incident's state, within Slack's limit.

        Each setTopic and setPurpose posts a line in the channel ("set the channel topic"),
        so only what differs from what the channel says now is set.
        """
        if effect.incident_id is None:
            raise GiveUp("channel.describe names no incident")
        channel_id = await self.rows.channel(effect.incident_id)
        topic = truncate(escape(effect.topic), TOPIC_MAX)
        purpose = truncate(escape(effect.purpose), TOPIC_MAX)
        described = (await self.client.conversations_info(channel=channel_id))["channel"]
        changed = []
        if (described.get("topic") or {}).get("value") != topic:
            await self.client.conversations_setTopic(channel=channel_id, topic=topic)
            changed.append("topic")
        if (described.get("purpose") or {}).get("value") != purpose:
            await self.client.conversations_setPurpose(channel=channel_id, purpose=purpose)
            changed.append("purpose")
        return {"channel_id": channel_id, "changed": changed}

    async def _create(self, name: str, private: bool, resumed: bool) -> tuple[str, str]:
        """Create the channel; a taken name gets the next suffix (`-2`, `-3`, ...).

        Listing a workspace's channels to see who holds a name takes minutes where there
        are thousands (conversations.list is Tier 2, 200 a page). Only a resumed attempt
        may meet a channel of its own (created, then a crash before its id was stored):
        it looks among the bot's own channels, once.
        """
        base = name
        orphans: dict[str, str] | None = None
        for attempt in range(1, 50):
            try:
                response = await self.client.conversations_create(name=name, is_private=private)
                return response["channel"]["id"], response["channel"]["name"]
            except SlackApiError as error:
                if slack_error(error) != "name_taken":
                    raise
                if resumed:
                    orphans = await self._orphans() if orphans is None else orphans
                    if name in orphans:
                        return orphans[name], name
                suffix = f"-{attempt + 1}"
                name = base[: 80 - len(suffix)] + suffix
        raise GiveUp(f"no free channel name like {base}")

    async def _orphans(self) -> dict[str, str]:
        """Channels the bot created but no incident recorded (a crash came between), by name.

        users.conversations lists only the bot's own channels, not the workspace's.
        """
        bot_user = await self._bot_user()
        created: dict[str, str] = {}
        cursor = None
        while True:
            response = await self.client.users_conversations(
                limit=200,
                cursor=cursor,
                types="public_channel,private_channel",
                exclude_archived=True,
            )
            channels: list[dict[str, Any]] = response.get("channels", [])
            for channel in channels:
                if channel.get("creator") == bot_user:
                    created[channel["name"]] = channel["id"]
            metadata: dict[str, Any] = response.get("response_metadata", {})
            cursor = metadata.get("next_cursor")
            if not cursor:
                break
        owned = await self.rows.db(partial(_owned, channel_ids=list(created.values())))
        return {name: id_ for name, id_ in created.items() if id_ not in owned}

    async def _resolve_people(self, people: list[str]) -> tuple[list[str], dict[str, str]]:
        """User ids for ids, emails and user groups; plus the invitees Slack does not know,
        each with Slack's reason."""
        users: list[str] = []
        unknown: dict[str, str] = {}
        for person in people:
            try:
                if re.fullmatch(r"[UW][A-Z0-9]+", person):
                    users.append(person)
                elif re.fullmatch(r"S[A-Z0-9]+", person) or (
                    "@" in person and not person.startswith("@")
                ):
                    users.extend(await self._lookup(person))
                else:
                    unknown[person] = "not a user id, user group or email"
            except SlackApiError as error:
                # One stale invitee in a playbook must not keep the channel from opening.
                if slack_error(error) not in SKIP_ERRORS:
                    raise
                unknown[person] = slack_error(error)
        return list(dict.fromkeys(users)), unknown

    async def _lookup(self, person: str) -> list[str]:
        """User ids of a user group or an email, remembered for a few minutes.

        Every incident of a playbook invites the same people; asking Slack once per
        incident would spend calls that the rate limit needs for the incident itself.
        """
        cached = self._people.get(person)
        if cached is not None and time.monotonic() - cached[0] < LOOKUP_TTL:
            return cached[1]
        if person.startswith("S"):
            response = await self.client.usergroups_users_list(usergroup=person)
            found = list(response.get("users", []))
        else:
            response = await self.client.users_lookupByEmail(email=person)
            found = [response["user"]["id"]]
        self._people[person] = (time.monotonic(), found)
        return found

    async def _invite(self, channel_id: str, people: list[str]) -> dict[str, Any]:
        """Invite everyone Slack lets in; the others are listed under `refused` with
        Slack's reason (the route tells the channel once), and not retried."""
        users, unknown = await self._resolve_people(people)
        bot_user = await self._bot_user()
        users = [u for u in users if u != bot_user]
        refused = dict(unknown)
        refused.update(await self._invite_users(channel_id, users))
        told = {p: why for p, why in refused.items() if why not in PRESENT}
        result: dict[str, Any] = {
            "invited": [u for u in users if u not in told],
            "unknown": list(unknown),
        }
        if told:
            result["refused"] = [{"user": p, "error": why} for p, why in told.items()]
        return result

    async def _invite_users(self, channel_id: str, users: list[str]) -> dict[str, str]:
        """Invite user ids; return those Slack refused, each with its reason."""
        refused: dict[str, str] = {}
        while users:
            try:
                await self.client.conversations_invite(channel=channel_id, users=",".join(users))
                return refused
            except SlackApiError as error:
                code = slack_error(error)
                if code not in SKIP_ERRORS:
                    raise
                listed = _listed_refusals(error, users)
                if not listed and len(users) > 1:
                    # Slack did not say whom it refused: ask about each alone.
                    for user in users:
                        refused.update(await self._invite_users(channel_id, [user]))
                    return refused
                # One refused id fails the whole call: invite the rest without it.
                refused.update(listed or {users[0]: code})
                users = [u for u in users if u not in refused]
        return refused

    async def _bot_user(self) -> str | None:
        if self._bot is None:
            response = await self.client.auth_test()
            self._bot = response.get("user_id", "")
        return self._bot or None

    async def invite(self, effect: Invite, _attempt: Attempt) -> dict[str, Any]:
        """Bring people into the incident channel."""
        if effect.incident_id is None:
            raise GiveUp("channel.invite names no incident")
        channel_id = await self.rows.channel(effect.incident_id)
        return await self._invite(channel_id, list(effect.users))


def refused_invitees(_effect: OpenChannel | Invite, result: dict[str, Any]) -> list[Remark]:
    """The people an invite result says Slack refused, as one remark for the channel."""
    refused = result.get("refused") or []
    if not refused:
        return []
    people = tuple(str(r["user"]) for r in refused)
    reasons = tuple(str(r["error"]) for r in refused)
    text = "Could not invite " + ", ".join(
        f"{p} ({why})" for p, why in zip(people, reasons, strict=True)
    )
    return [Remark(InviteRefused(people=people, reasons=reasons), text)]


def _listed_refusals(error: SlackApiError, users: list[str]) -> dict[str, str]:
    """The users conversations.invite's answer lists as refused (`errors`: one
    {"user", "ok", "error"} each), with Slack's reason."""
    listed = error.response.get("errors")
    if not isinstance(listed, list):
        return {}
    return {
        str(item["user"]): str(item.get("error") or slack_error(error))
        for item in listed
        if isinstance(item, dict) and item.get("user") in users
    }


def _owned(session: Session, *, channel_ids: list[str]) -> set[str]:
    """Those of the channels some incident has recorded as its own."""
    query = select(col(Incident.channel_id)).where(col(Incident.channel_id).in_(channel_ids))
    return {str(channel_id) for channel_id in session.scalars(query)}

"""Carry out the chat effects of the outbox against Slack's Web API."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import bindparam, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents import effects
from bot.incidents.effects import OP_RESUMED
from bot.postmortem import headline, store_draft
from bot.slack.blocks import card_block_id, card_blocks, card_text
from bot.slack.cards import card_view
from bot.slack.escape import escape, mention, truncate
from storage.db import transaction
from storage.models import Incident

# Slack answers these when retrying can never help; the operation is failed, not retried.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "channel_not_found",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_name",
        "invalid_name_specials",
        "invalid_name_maxlength",
        "invalid_name_required",
        "restricted_action",
        "message_not_found",
        "cant_update_message",
    }
)


LOOKUP_TTL = 300.0
UNKNOWN_PERSON = frozenset(
    {"no_such_subteam", "subteam_not_found", "users_not_found", "user_not_found"}
)
USER_ID = re.compile(r"(?<![\w@<])[UW](?=[A-Z]*\d)[A-Z0-9]{4,}(?![\w>])")


_CHANNEL = select(Incident.channel_id).where(Incident.id == bindparam("p_id"))


def _message_text(payload: dict[str, Any]) -> str:
    text = payload.get("text") or ""
    if not payload.get("trusted"):
        text = escape(text)
    if payload.get("actor"):
        # A command's echo names people by id ("commander is now U0BOB"): show them as
        # mentions. Only echoes: ids in alert text must never turn into pings.
        text = USER_ID.sub(lambda m: mention(m.group(0)), text)
        text = f"{mention(payload['actor'])}: {text}"
    return text


class PermanentError(Exception):
    """Slack refused in a way no retry can fix."""


def slack_error(error: SlackApiError) -> str:
    """Slack's error code from a failed call."""
    return str(error.response.get("error", "unknown_error"))


class SlackOperations:
    """Handlers for the outbox kinds that talk to Slack."""

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: sessionmaker[Session],
        *,
        tz: ZoneInfo,
        broadcast_channel: str | None,
        template_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.tz = tz
        self.broadcast_channel = broadcast_channel
        self.template_dir = template_dir
        self._channel_ids: dict[str, str] = {}
        self._channels: dict[int, str] = {}  # incident id: its channel
        self._people: dict[str, tuple[float, list[str]]] = {}
        self._joined: set[str] = set()
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            effects.OPEN_CHANNEL: self.open_channel,
            effects.INVITE: self.invite,
            effects.POST_CARD: self.post_card,
            effects.UPDATE_CARD: self.update_card,
            effects.POST_MESSAGE: self.post_message,
            effects.BROADCAST: self.broadcast,
            effects.POST_POSTMORTEM: self.post_postmortem,
        }
        self.group_handlers = {effects.POST_MESSAGE: self.post_echoes}

    async def _db(self, fn: Callable[[Session], Any]) -> Any:
        def work() -> Any:
            with transaction(self.sessions) as session:
                return fn(session)

        return await asyncio.to_thread(work)

    async def _incident(self, incident_id: int) -> Incident:
        incident = await self._db(lambda s: s.get(Incident, incident_id))
        if incident is None:
            raise PermanentError(f"incident {incident_id} does not exist")
        return incident

    async def _channel(self, incident_id: int) -> str:
        # An incident keeps its channel once it has one: look it up once per process, and
        # only the column (the row carries the whole playbook).
        channel_id = self._channels.get(incident_id)
        if channel_id is None:
            row = await self._db(lambda s: s.execute(_CHANNEL, {"p_id": incident_id}).first())
            if row is None:
                raise PermanentError(f"incident {incident_id} does not exist")
            if not row.channel_id:
                raise PermanentError(f"incident {incident_id} has no channel")
            channel_id = self._channels[incident_id] = row.channel_id
        return channel_id

    async def open_channel(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Create the incident channel (suffixing a taken name), describe it, invite people."""
        incident = await self._incident(payload["incident_id"])
        channel_id = incident.channel_id
        name = incident.channel_name or payload["name"]
        topic = truncate(escape(payload["topic"]), 250)
        purpose = truncate(escape(payload["purpose"]), 250)
        described: dict[str, Any] = {}
        if channel_id is not None:
            # A retry: an earlier attempt may have described the channel already, and each
            # setTopic posts a notice in the channel, so set only what is not set yet.
            described = (await self.client.conversations_info(channel=channel_id))["channel"]
        if channel_id is None:
            channel_id, name = await self._create(payload["name"], payload.get("private", False))

            def keep(session: Session) -> None:
                row = session.get(Incident, incident.id)
                assert row is not None
                row.channel_id, row.channel_name = channel_id, name

            # Stored before anything else so a retry after a crash reuses this channel.
            await self._db(keep)
        if (described.get("topic") or {}).get("value") != topic:
            await self.client.conversations_setTopic(channel=channel_id, topic=topic)
        if (described.get("purpose") or {}).get("value") != purpose:
            await self.client.conversations_setPurpose(channel=channel_id, purpose=purpose)
        invited = await self._invite(channel_id, payload.get("invite", []))
        return {"channel_id": channel_id, "name": name, **invited}

    async def _create(self, name: str, private: bool) -> tuple[str, str]:
        base = name
        for attempt in range(1, 50):
            try:
                response = await self.client.conversations_create(name=name, is_private=private)
                return response["channel"]["id"], response["channel"]["name"]
            except SlackApiError as error:
                if slack_error(error) != "name_taken":
                    raise
                orphan = await self._orphan(name)
                if orphan is not None:
                    return orphan, name
                suffix = f"-{attempt + 1}"
                name = base[: 80 - len(suffix)] + suffix
        raise PermanentError(f"no free channel name like {base}")

    async def _orphan(self, name: str) -> str | None:
        """A channel of this name the bot created but never recorded (a crash came between)."""
        bot_user = await self._bot_user()
        cursor = None
        while True:
            response = await self.client.conversations_list(
                limit=200, cursor=cursor, types="public_channel,private_channel"
            )
            for channel in response.get("channels", []):
                if channel.get("name") != name:
                    continue
                if channel.get("creator") != bot_user:
                    return None
                channel_id = channel["id"]
                owner = await self._db(
                    lambda s, c=channel_id: s.scalar(
                        select(Incident.id).where(Incident.channel_id == c)
                    )
                )
                return None if owner is not None else channel_id
            cursor = response.get("response_metadata", {}).get("next_cursor")
            if not cursor:
                return None

    async def _orphan_card(self, channel_id: str, incident_id: int) -> str | None:
        """The ts of a card an interrupted attempt posted but never recorded."""
        response = await self.client.conversations_history(channel=channel_id, limit=50)
        marker = card_block_id(incident_id)
        for message in response.get("messages", []):
            if any(block.get("block_id") == marker for block in message.get("blocks") or []):
                return message["ts"]
        return None

    async def _resolve_people(self, people: list[str]) -> tuple[list[str], list[str]]:
        """User ids for ids, emails and user groups; plus the invitees Slack does not know."""
        users: list[str] = []
        unknown: list[str] = []
        for person in people:
            try:
                if re.fullmatch(r"[UW][A-Z0-9]+", person):
                    users.append(person)
                elif re.fullmatch(r"S[A-Z0-9]+", person) or (
                    "@" in person and not person.startswith("@")
                ):
                    users.extend(await self._lookup(person))
                else:
                    unknown.append(person)
            except SlackApiError as error:
                # One stale invitee in a playbook must not keep the channel from opening.
                if slack_error(error) not in UNKNOWN_PERSON:
                    raise
                unknown.append(person)
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

    async def _invite(self, channel_id: str, people: list[str]) -> dict[str, list[str]]:
        users, unknown = await self._resolve_people(people)
        bot_user = await self._bot_user()
        users = [u for u in users if u != bot_user]
        if users:
            try:
                await self.client.conversations_invite(channel=channel_id, users=",".join(users))
            except SlackApiError as error:
                if slack_error(error) != "already_in_channel":
                    raise
        return {"invited": users, "unknown": unknown}

    async def _bot_user(self) -> str | None:
        if "__bot__" not in self._channel_ids:
            response = await self.client.auth_test()
            self._channel_ids["__bot__"] = response.get("user_id", "")
        return self._channel_ids["__bot__"] or None

    async def invite(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Bring people into the incident channel."""
        channel_id = await self._channel(payload["incident_id"])
        return await self._invite(channel_id, payload.get("users", []))

    async def post_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Post the incident card and pin it."""
        incident_id = payload["incident_id"]
        channel_id = await self._channel(incident_id)
        card = await self._db(lambda s: card_view(s, s.get(Incident, incident_id)))
        ts = await self._orphan_card(channel_id, incident_id) if payload.get(OP_RESUMED) else None
        if ts is None:
            response = await self.client.chat_postMessage(
                channel=channel_id, text=card_text(card), blocks=card_blocks(card, self.tz)
            )
            ts = response["ts"]

        def keep(session: Session) -> None:
            row = session.get(Incident, incident_id)
            assert row is not None
            row.card_ts = ts

        await self._db(keep)
        try:
            await self.client.pins_add(channel=channel_id, timestamp=ts)
        except SlackApiError as error:
            if slack_error(error) != "already_pinned":
                raise
        return {"channel_id": channel_id, "ts": ts}

    async def update_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Redraw the card in place from the incident as it is now."""
        incident_id = payload["incident_id"]
        incident = await self._incident(incident_id)
        if not incident.channel_id or not incident.card_ts:
            raise PermanentError("the card was never posted")
        card = await self._db(lambda s: card_view(s, s.get(Incident, incident_id)))
        await self.client.chat_update(
            channel=incident.channel_id,
            ts=incident.card_ts,
            text=card_text(card),
            blocks=card_blocks(card, self.tz),
        )
        return {"ts": incident.card_ts}

    async def post_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Post a message in the incident channel; responders' text is escaped."""
        channel_id = await self._channel(payload["incident_id"])
        response = await self.client.chat_postMessage(
            channel=channel_id, text=truncate(_message_text(payload), 39000)
        )
        return {"ts": response["ts"]}

    async def post_echoes(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post several commands' echoes of one incident as one message, a line each.

        Slack lets an app post about one message per second per channel: a burst of
        commands echoed one by one would be throttled for minutes and bury the channel.
        """
        channel_id = await self._channel(payloads[0]["incident_id"])
        text = "\n".join(_message_text(payload) for payload in payloads)
        response = await self.client.chat_postMessage(
            channel=channel_id, text=truncate(text, 39000)
        )
        return [{"ts": response["ts"], "lines": len(payloads)}] * len(payloads)

    async def broadcast(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Announce in the broadcast channel, when one is configured."""
        if not self.broadcast_channel:
            return {"skipped": "WARROOM_BROADCAST_CHANNEL is not set"}
        channel = await self._broadcast_id()
        text = escape(payload.get("text") or "")
        incident_id = payload.get("incident_id")
        if incident_id:
            incident = await self._incident(incident_id)
            if incident.channel_id:
                text += f" · <#{incident.channel_id}>"
        response = await self.client.chat_postMessage(channel=channel, text=text)
        return {"ts": response["ts"], "channel_id": channel}

    async def _broadcast_id(self) -> str:
        target = (self.broadcast_channel or "").lstrip("#")
        if re.fullmatch(r"[CG][A-Z0-9]+", target):
            return target
        if target not in self._channel_ids:
            cursor = None
            while True:
                response = await self.client.conversations_list(
                    limit=200, cursor=cursor, exclude_archived=True
                )
                for channel in response.get("channels", []):
                    self._channel_ids[channel["name"]] = channel["id"]
                cursor = response.get("response_metadata", {}).get("next_cursor")
                if target in self._channel_ids or not cursor:
                    break
        if target not in self._channel_ids:
            raise PermanentError(f"broadcast channel #{target} not found")
        channel_id = self._channel_ids[target]
        if channel_id in self._joined:
            return channel_id
        try:
            await self.client.conversations_join(channel=channel_id)
        except SlackApiError as error:
            if slack_error(error) not in (
                "already_in_channel",
                "method_not_supported_for_channel_type",
            ):
                raise
        self._joined.add(channel_id)
        return channel_id

    async def post_postmortem(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Draft the postmortem, keep it, and upload it to the channel as a Markdown file."""
        incident_id = payload["incident_id"]
        channel_id = await self._channel(incident_id)
        pm, text = await self._db(
            lambda s: store_draft(s, incident_id, tz=self.tz, template_dir=self.template_dir)
        )
        response = await self.client.files_upload_v2(
            channel=channel_id,
            content=text,
            filename=f"postmortem-incident-{incident_id}.md",
            title=f"Postmortem draft: {pm.title}",
            initial_comment=escape(headline(pm)),
        )
        file = response.get("file") or (response.get("files") or [{}])[0]
        return {"file_id": file.get("id"), "chars": len(text)}

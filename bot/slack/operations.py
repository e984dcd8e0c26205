"""Carry out the chat effects of the outbox against Slack's Web API."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents import effects
from bot.incidents.effects import OP_RESUMED
from bot.postmortem import headline, store_draft
from bot.slack.blocks import card_block_id, card_blocks, card_text
from bot.slack.cards import card_view
from bot.slack.channels import ChannelOperations
from bot.slack.errors import PermanentError, slack_error
from bot.slack.escape import escape, mention, truncate
from bot.slack.incident_rows import IncidentRows
from storage.models import Incident

USER_ID = re.compile(r"(?<![\w@<])[UW](?=[A-Z]*\d)[A-Z0-9]{4,}(?![\w>])")


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
        self.rows = IncidentRows(sessions)
        self.tz = tz
        self.broadcast_channel = broadcast_channel
        self.template_dir = template_dir
        self.channels = ChannelOperations(client, self.rows)
        self._channel_ids: dict[str, str] = {}  # channel name: id (the broadcast channel)
        self._joined: set[str] = set()
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            effects.OPEN_CHANNEL: self.channels.open_channel,
            effects.INVITE: self.channels.invite,
            effects.POST_CARD: self.post_card,
            effects.UPDATE_CARD: self.update_card,
            effects.POST_MESSAGE: self.post_message,
            effects.BROADCAST: self.broadcast,
            effects.POST_POSTMORTEM: self.post_postmortem,
        }
        self.group_handlers = {effects.POST_MESSAGE: self.post_echoes}

    async def post_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Post the incident card and pin it."""
        incident_id = payload["incident_id"]
        channel_id = await self.rows.channel(incident_id)
        card = await self.rows.db(lambda s: card_view(s, s.get(Incident, incident_id)))
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

        await self.rows.db(keep)
        try:
            await self.client.pins_add(channel=channel_id, timestamp=ts)
        except SlackApiError as error:
            if slack_error(error) != "already_pinned":
                raise
        return {"channel_id": channel_id, "ts": ts}

    async def _orphan_card(self, channel_id: str, incident_id: int) -> str | None:
        """The ts of a card an interrupted attempt posted but never recorded."""
        response = await self.client.conversations_history(channel=channel_id, limit=50)
        marker = card_block_id(incident_id)
        for message in response.get("messages", []):
            if any(block.get("block_id") == marker for block in message.get("blocks") or []):
                return message["ts"]
        return None

    async def update_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Redraw the card in place from the incident as it is now."""
        incident_id = payload["incident_id"]
        incident = await self.rows.incident(incident_id)
        if not incident.channel_id or not incident.card_ts:
            raise PermanentError("the card was never posted")
        card = await self.rows.db(lambda s: card_view(s, s.get(Incident, incident_id)))
        await self.client.chat_update(
            channel=incident.channel_id,
            ts=incident.card_ts,
            text=card_text(card),
            blocks=card_blocks(card, self.tz),
        )
        return {"ts": incident.card_ts}

    async def post_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Post a message in the incident channel; responders' text is escaped."""
        channel_id = await self.rows.channel(payload["incident_id"])
        response = await self.client.chat_postMessage(
            channel=channel_id, text=truncate(_message_text(payload), 39000)
        )
        return {"ts": response["ts"]}

    async def post_echoes(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post several commands' echoes of one incident as one message, a line each.

        Slack lets an app post about one message per second per channel: a burst of
        commands echoed one by one would be throttled for minutes and bury the channel.
        """
        channel_id = await self.rows.channel(payloads[0]["incident_id"])
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
            incident = await self.rows.incident(incident_id)
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
        channel_id = await self.rows.channel(incident_id)
        pm, text = await self.rows.db(
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

"""Carry out the chat effects of the outbox against Slack's Web API."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.incidents.effects import (
    Broadcast,
    BroadcastNotice,
    DescribeChannel,
    Effect,
    Invite,
    OpenChannel,
    PostCard,
    PostMessage,
    PostNotice,
    PostPostmortem,
    UpdateCard,
)
from bot.outbox.errors import GiveUp
from bot.outbox.routes import Attempt, Route
from bot.postmortem import drafted, headline, keep_draft
from bot.postmortem.figure_data import TimelineData, gather
from bot.slack.blocks import card_block_id, card_blocks, card_text
from bot.slack.cards import card_view
from bot.slack.channels import ChannelOperations, refused_invitees
from bot.slack.coalescing import group_echoes, supersede_description, supersede_redraw
from bot.slack.errors import slack_error, translated
from bot.slack.escape import escape, mention
from bot.slack.incident_rows import IncidentRows
from bot.slack.limits import TEXT_MAX, fit_text, send_fitted
from bot.slack.notices import notice_blocks, render
from bot.slack.once import already_posted, answered, metadata, shares_file
from storage.models import Incident

log = logging.getLogger(__name__)
LIST_AGAIN_AFTER = 300.0  # seconds before a missing broadcast channel is looked for again
USER_ID = re.compile(r"(?<![\w@<])[UW](?=[A-Z]*\d)[A-Z0-9]{4,}(?![\w>])")


def _draw_png(data: TimelineData, tz: ZoneInfo) -> bytes:
    """The timeline figure's PNG; run in a worker thread (matplotlib is imported here, on
    first use, rather than when the service starts)."""
    from bot.postmortem.figure import timeline_figure

    return timeline_figure(data, tz)[1]


def _figure_name(incident_id: int) -> str:
    return f"postmortem-incident-{incident_id}-timeline.png"


def _file_id(message: dict[str, Any], name: str) -> str | None:
    """The id of the file called `name` a message from the history shares."""
    return next((f.get("id") for f in message.get("files") or [] if f.get("name") == name), None)


def _message_text(effect: PostMessage) -> str:
    text = effect.text or ""
    if not effect.trusted:
        text = escape(text)
    if effect.actor:
        # A command's echo names people by id ("commander is now U0BOB"): show them as
        # mentions. Only echoes: ids in alert text must never turn into pings.
        text = USER_ID.sub(lambda m: mention(m.group(0)), text)
        text = f"{mention(effect.actor)}: {text}"
    return text


def _row(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise GiveUp(f"incident {incident_id} does not exist")
    return incident


def _incident(effect: Effect) -> int:
    if effect.incident_id is None:
        raise GiveUp(f"{effect.kind} names no incident")
    return effect.incident_id


class SlackOperations:
    """The outbox routes of the effects carried out in Slack."""

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
        self._listed_at = -LIST_AGAIN_AFTER  # when conversations.list was last read through
        self._joined: set[str] = set()
        channels = self.channels
        self.routes: dict[type[Effect], Route[Any]] = {
            OpenChannel: Route(
                translated(OpenChannel.kind, channels.open_channel), remarks=refused_invitees
            ),
            Invite: Route(translated(Invite.kind, channels.invite), remarks=refused_invitees),
            DescribeChannel: Route(
                translated(DescribeChannel.kind, channels.describe), coalesce=supersede_description
            ),
            PostCard: Route(translated(PostCard.kind, self.post_card)),
            UpdateCard: Route(
                translated(UpdateCard.kind, self.update_card), coalesce=supersede_redraw
            ),
            PostMessage: Route(
                translated(PostMessage.kind, self.post_message),
                coalesce=group_echoes,
                run_together=self.post_echoes,
            ),
            PostNotice: Route(translated(PostNotice.kind, self.post_notice)),
            Broadcast: Route(translated(Broadcast.kind, self.broadcast)),
            BroadcastNotice: Route(translated(BroadcastNotice.kind, self.broadcast_notice)),
            PostPostmortem: Route(translated(PostPostmortem.kind, self.post_postmortem)),
        }

    async def post_card(self, effect: PostCard, attempt: Attempt) -> dict[str, Any]:
        """Post the incident card and pin it."""
        incident_id = _incident(effect)
        channel_id = await self.rows.channel(incident_id)
        card = await self.rows.read(lambda s: card_view(s, _row(s, incident_id)))
        ts = await self._orphan_card(channel_id, incident_id) if attempt.resumed else None
        if ts is None:
            response = await send_fitted(
                self.client.chat_postMessage,
                channel=channel_id,
                text=card_text(card),
                blocks=card_blocks(card, self.tz),
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
        messages: list[dict[str, Any]] = response.get("messages", [])
        for message in messages:
            if any(block.get("block_id") == marker for block in message.get("blocks") or []):
                return message["ts"]
        return None

    async def update_card(self, effect: UpdateCard, _attempt: Attempt) -> dict[str, Any]:
        """Redraw the card in place from the incident as it is now."""
        incident_id = _incident(effect)
        incident = await self.rows.incident(incident_id)
        if not incident.channel_id or not incident.card_ts:
            raise GiveUp("the card was never posted")
        card = await self.rows.read(lambda s: card_view(s, _row(s, incident_id)))
        await send_fitted(
            self.client.chat_update,
            channel=incident.channel_id,
            ts=incident.card_ts,
            text=card_text(card),
            blocks=card_blocks(card, self.tz),
        )
        return {"ts": incident.card_ts}

    async def post_message(self, effect: PostMessage, attempt: Attempt) -> dict[str, Any]:
        """Post a message in the incident channel; responders' text is escaped."""
        return await self._post(_incident(effect), _message_text(effect), attempt)

    async def post_notice(self, effect: PostNotice, attempt: Attempt) -> dict[str, Any]:
        """Post a notice in the incident channel, in Slack's words (and buttons)."""
        incident_id = _incident(effect)
        text = render(effect.notice, self.tz)
        blocks = notice_blocks(effect.notice, text, incident_id)
        return await self._post(incident_id, text, attempt, blocks)

    async def _post(
        self,
        incident_id: int,
        text: str,
        attempt: Attempt,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        channel_id = await self.rows.channel(incident_id)
        found = await already_posted(self.client, channel_id, attempt)
        if found is not None:
            return {"ts": found["ts"], "found": True}
        response = await answered(
            self.client,
            send_fitted(
                self.client.chat_postMessage,
                channel=channel_id,
                text=text,
                metadata=metadata([attempt.op_id]),
                blocks=blocks,
            ),
        )
        return {"ts": response["ts"]}

    async def post_echoes(
        self, echoes: list[PostMessage], attempts: list[Attempt]
    ) -> list[dict[str, Any]]:
        """Post several commands' echoes of one incident as one message, a line each.

        Slack lets an app post about one message per second per channel: a burst of
        commands echoed one by one would be throttled for minutes and bury the channel.
        """
        channel_id = await self.rows.channel(_incident(echoes[0]))
        text = "\n".join(_message_text(echo) for echo in echoes)
        # The message names every operation it carries out: a retry of any one finds it.
        response = await answered(
            self.client,
            send_fitted(
                self.client.chat_postMessage,
                channel=channel_id,
                text=text,
                metadata=metadata([attempt.op_id for attempt in attempts]),
            ),
        )
        return [{"ts": response["ts"], "lines": len(echoes)}] * len(echoes)

    async def broadcast(self, effect: Broadcast, attempt: Attempt) -> dict[str, Any]:
        """Announce in the broadcast channel, when one is configured."""
        # Announcements carry titles people typed: escaped, so none of them pings anyone.
        linked = effect.incident_id if effect.link else None
        return await self._announce(escape(effect.text), linked, attempt)

    async def broadcast_notice(self, effect: BroadcastNotice, attempt: Attempt) -> dict[str, Any]:
        """Announce a notice in the broadcast channel, in Slack's words."""
        return await self._announce(render(effect.notice, self.tz), effect.incident_id, attempt)

    async def _announce(
        self, text: str, incident_id: int | None, attempt: Attempt
    ) -> dict[str, Any]:
        """Post mrkdwn (escaped by the caller) in the broadcast channel, once."""
        if not self.broadcast_channel:
            return {"skipped": "WARROOM_BROADCAST_CHANNEL is not set"}
        channel = await self._broadcast_id()
        found = await already_posted(self.client, channel, attempt)
        if found is not None:
            return {"ts": found["ts"], "channel_id": channel, "found": True}
        # Cut before the channel link is added, so a long title never cuts the link off.
        text = fit_text(text, TEXT_MAX - 100)
        if incident_id:
            incident = await self.rows.incident(incident_id)
            if incident.channel_id:
                text += f" · <#{incident.channel_id}>"
        response = await answered(
            self.client,
            send_fitted(
                self.client.chat_postMessage,
                channel=channel,
                text=text,
                metadata=metadata([attempt.op_id]),
            ),
        )
        return {"ts": response["ts"], "channel_id": channel}

    async def _broadcast_id(self) -> str:
        target = (self.broadcast_channel or "").lstrip("#")
        if re.fullmatch(r"[CG][A-Z0-9]+", target):
            return target
        stale = time.monotonic() - self._listed_at > LIST_AGAIN_AFTER
        if target not in self._channel_ids and stale:
            await self._list_channels()
        if target not in self._channel_ids:
            raise GiveUp(f"broadcast channel #{target} not found")
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

    async def _list_channels(self) -> None:
        """Learn every channel the bot can see by name: public ones, and private ones it
        is in (conversations.list shows a private channel only to its members).

        Tier 2 at 200 a page: a large workspace takes minutes, so this runs once, and
        again only when a name was missing a while ago.
        """
        cursor = None
        while True:
            response = await self.client.conversations_list(
                limit=200,
                cursor=cursor,
                exclude_archived=True,
                types="public_channel,private_channel",
            )
            channels: list[dict[str, Any]] = response.get("channels", [])
            for channel in channels:
                self._channel_ids[channel["name"]] = channel["id"]
            metadata: dict[str, Any] = response.get("response_metadata", {})
            cursor = metadata.get("next_cursor")
            if not cursor:
                break
        self._listed_at = time.monotonic()

    async def post_postmortem(self, effect: PostPostmortem, attempt: Attempt) -> dict[str, Any]:
        """Draft the postmortem, keep it, and upload it to the channel as a Markdown file."""
        incident_id = _incident(effect)
        channel_id = await self.rows.channel(incident_id)
        filename = f"postmortem-incident-{incident_id}.md"
        found = await already_posted(self.client, channel_id, attempt, shares_file(filename))
        if found is not None:
            # The draft went out before the last attempt stopped; its figure, uploaded
            # after it, may not have.
            figure = await already_posted(
                self.client, channel_id, attempt, shares_file(_figure_name(incident_id))
            )
            if figure is not None:
                figure_id = _file_id(figure, _figure_name(incident_id))
            else:
                title = await self.rows.db(lambda s: _row(s, incident_id).title)
                figure_id = await self._upload_figure(incident_id, channel_id, title)
            return {"file_id": _file_id(found, filename), "found": True, "figure_id": figure_id}
        # Built on a read session, stored in a short transaction: the draft of a storm's
        # incident takes seconds to build, which would hold up every writer on SQLite.
        pm, fresh = await self.rows.read(
            lambda s: drafted(s, incident_id, tz=self.tz, template_dir=self.template_dir)
        )
        text = await self.rows.db(lambda s: keep_draft(s, incident_id, fresh))
        response = await answered(
            self.client,
            self.client.files_upload_v2(
                channel=channel_id,
                content=text,
                filename=filename,
                # Slack documents no limit for a file's title: a title is a line, not a page.
                title=fit_text(f"Postmortem draft: {pm.title}", 250),
                initial_comment=fit_text(escape(headline(pm))),
            ),
        )
        file = response.get("file") or (response.get("files") or [{}])[0]
        result: dict[str, Any] = {"file_id": file.get("id"), "chars": len(text)}
        result["figure_id"] = await self._upload_figure(incident_id, channel_id, pm.title)
        return result

    async def _upload_figure(self, incident_id: int, channel_id: str, title: str) -> str | None:
        """Upload the incident's timeline figure (PNG) after its draft; None if it failed.

        The draft is already posted: a figure that cannot be drawn or uploaded is logged
        and left out, never retried at the cost of the draft."""
        try:
            data = await self.rows.read(lambda s: gather(s, incident_id))
            # Importing matplotlib and drawing are CPU-bound: a worker thread, so the event
            # loop never waits on them.
            png = await asyncio.to_thread(_draw_png, data, self.tz)
            response = await answered(
                self.client,
                self.client.files_upload_v2(
                    channel=channel_id,
                    content=png,
                    filename=_figure_name(incident_id),
                    title=fit_text(f"Timeline: {title}", 250),
                ),
            )
        except Exception:
            log.exception("postmortem figure of incident #%s not posted", incident_id)
            return None
        file = response.get("file") or (response.get("files") or [{}])[0]
        figure_id: str | None = file.get("id")
        return figure_id

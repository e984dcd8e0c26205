"""The App Home dashboard: `/incident list all` as blocks, a Join button on each open one.

What a user sees depends on the private channels they are in, which only Slack knows: the
listener asks Slack (`users.conversations`) before reading the list, and a private
incident is shown in full, with its button, only to its channel's members.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlmodel import Session, col

from bot.incidents.overview import IncidentList, Listed, incident_list
from bot.incidents.times import format_duration
from bot.slack.blocks import HOME_TITLE_MAX, SEVERITY_EMOJI
from bot.slack.escape import escape, truncate
from bot.slack.ids import ActionId
from bot.slack.limits import CONTEXT_MAX, TEXT_OBJECT_MAX, VIEW_BLOCKS_MAX, fit_blocks
from storage.models import Incident

# Rows on the dashboard: each takes a block, the view holds 100 with its headings.
HOME_LIMIT = 40
JOIN_LABEL = "Join channel"
# What the refreshed dashboard says on top after a click on Join.
JOINED = ":white_check_mark: You joined <#{channel}>."
ALREADY_IN = ":information_source: You are already in <#{channel}>."
CANNOT_JOIN = ":warning: warroom could not add you to incident #{id}'s channel: {why}."
PRIVATE = ":lock: Incident #{id} is private: its commander can add you to its channel."
GONE = ":warning: Incident #{id} has no channel to join (any more)."


async def channels_of(client: AsyncWebClient, user: str) -> set[str]:
    """The channels a user is in, as far as the bot can see (private ones it is in too);
    empty when Slack will not say (then private incidents stay hidden and every open one
    gets its button)."""
    found: set[str] = set()
    cursor = None
    try:
        while True:
            answer = await client.users_conversations(
                user=user,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            found.update(channel["id"] for channel in answer.get("channels") or [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found
    except SlackApiError:
        return found


def dashboard(session: Session, now: datetime, channels: Collection[str]) -> IncidentList:
    """Open incidents and the last 7 days' resolved ones; private ones in full where the
    user is in their channel."""
    member_of = {
        incident_id
        for incident_id in session.scalars(
            select(col(Incident.id)).where(
                col(Incident.private).is_(True), col(Incident.channel_id).in_(list(channels))
            )
        )
        if incident_id is not None
    }
    return incident_list(session, now, recent=True, member_of=member_of, limit=HOME_LIMIT)


def dashboard_view(
    shown: IncidentList, channels: Collection[str], *, notice: str | None = None
) -> dict[str, Any]:
    """The Home view: a notice if any, the open incidents, then the recently resolved."""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(_context(notice))
    open_rows = [row for row in shown.incidents if row.resolved_ago is None]
    resolved = [row for row in shown.incidents if row.resolved_ago is not None]
    blocks.append(_header("Open incidents"))
    if not open_rows:
        blocks.append(_section("No open incidents. :sunny:"))
    blocks.extend(_open_row(row, channels) for row in open_rows)
    blocks.append({"type": "divider"})
    blocks.append(_header("Resolved in the last 7 days"))
    if not resolved:
        blocks.append(_section("None."))
    blocks.extend(_section(_line(row)) for row in resolved)
    if shown.more:
        blocks.append(_context(f"…and {shown.more} more: `/incident list all` shows them all."))
    return {"type": "home", "blocks": fit_blocks(blocks, most=VIEW_BLOCKS_MAX)}


def join_notice(error: str | None, *, incident_id: int, channel: str | None) -> str:
    """What the dashboard says after a Join click: Slack's answer to the invitation."""
    if channel is None:
        return GONE.format(id=incident_id)
    if error is None:
        return JOINED.format(channel=channel)
    if error == "private":
        return PRIVATE.format(id=incident_id)
    if error == "already_in_channel":
        return ALREADY_IN.format(channel=channel)
    return CANNOT_JOIN.format(id=incident_id, why=escape(error))


def _open_row(row: Listed, channels: Collection[str]) -> dict[str, Any]:
    block = _section(_line(row))
    # No button where there is nothing to join: a private incident hidden from this user,
    # an incident whose channel is still being made, or a channel the user is in already.
    if row.hidden or row.channel_id is None:
        return block
    if row.channel_id in channels:
        block["text"]["text"] += "\n_You are in this channel._"
        return block
    block["accessory"] = {
        "type": "button",
        "action_id": ActionId.JOIN_CHANNEL,
        "text": {"type": "plain_text", "text": JOIN_LABEL},
        "value": str(row.id),
    }
    return block


def _line(row: Listed) -> str:
    title = "Private incident" if row.hidden else row.title or ""
    drill = " (drill)" if row.drill else ""
    first = (
        f"{SEVERITY_EMOJI.get(row.severity, '')} "
        f"*#{row.id} {truncate(escape(title), HOME_TITLE_MAX)}*{drill}"
    )
    if row.resolved_ago is not None:
        facts = [
            f"resolved {format_duration(row.resolved_ago)} ago",
            f"lasted {format_duration(row.age)}",
        ]
    else:
        facts = [row.status, f"open {format_duration(row.age)}"]
    if row.commander:
        facts.append(f"commander {escape(row.commander)}")
    if row.channel_id:
        facts.append(f"<#{row.channel_id}>")
    return truncate(f"{first}\n{' · '.join(facts)}", TEXT_OBJECT_MAX)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, CONTEXT_MAX)}],
    }

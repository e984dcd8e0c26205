"""Rows to the JSON objects Slack returns: users, conversations, messages, pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping, func, select

from bot.sandbox import tables as t
from bot.sandbox.base import Call, SlackError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def user_object(row: RowMapping, team_id: str, epoch: int) -> dict[str, Any]:
    """Return a users.info-shaped user."""
    offset = datetime.fromtimestamp(epoch, ZoneInfo(row["tz"])).utcoffset()
    profile: dict[str, Any] = {
        "real_name": row["real_name"],
        "display_name": row["name"],
        "real_name_normalized": row["real_name"],
        "display_name_normalized": row["name"],
        "image_48": "",
        "team": team_id,
    }
    if row["email"]:
        profile["email"] = row["email"]
    if row["bot_id"]:
        profile["bot_id"] = row["bot_id"]
    return {
        "id": row["id"],
        "team_id": team_id,
        "name": row["name"],
        "deleted": False,
        "real_name": row["real_name"],
        "tz": row["tz"],
        "tz_label": row["tz"],
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_bot": bool(row["is_bot"]),
        "is_app_user": False,
        "updated": epoch,
    }


def channel_object(call: Call, row: RowMapping, *, num_members: bool = False) -> dict[str, Any]:
    """Return a conversations.info-shaped conversation as the caller sees it."""
    obj: dict[str, Any] = {
        "id": row["id"],
        "created": row["created"],
        "creator": row["creator"],
        "is_archived": bool(row["is_archived"]),
        "is_im": bool(row["is_im"]),
        "is_org_shared": False,
        "context_team_id": call.team_id,
        "updated": row["created"] * 1000,
    }
    if row["is_im"]:
        others = [m for m in call.member_ids(row["id"]) if m != call.user_id]
        obj.update({"user": others[0] if others else call.user_id, "is_open": True})
        return obj
    obj.update(
        {
            "name": row["name"],
            "name_normalized": row["name"],
            "is_channel": not row["is_private"],
            "is_group": bool(row["is_private"]),
            "is_mpim": False,
            "is_private": bool(row["is_private"]),
            "is_general": bool(row["is_general"]),
            "is_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "unlinked": 0,
            "is_member": call.is_member(row["id"], call.user_id),
            "topic": row["topic"],
            "purpose": row["purpose"],
            "previous_names": [],
        }
    )
    if num_members:
        count = select(func.count()).where(t.members.c.channel_id == row["id"])
        obj["num_members"] = call.conn.execute(count).scalar_one()
    return obj


def message_object(row: RowMapping, *, channel: bool = False) -> dict[str, Any]:
    """Return a stored message as history and replies show it."""
    msg = dict(row["body"])
    if row["reactions"]:
        msg["reactions"] = row["reactions"]
    if row["pinned_by"]:
        msg["pinned_to"] = [row["channel_id"]]
    if channel:
        msg["channel"] = row["channel_id"]
    return msg


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def page(args_cursor: str | None, limit: int, items: Sequence[Any]) -> tuple[list[Any], str]:
    """Slice items at an opaque cursor; return the page and the next cursor ("" at the end)."""
    offset = 0
    if args_cursor:
        try:
            kind, _, value = base64.b64decode(args_cursor).decode().partition(":")
            offset = int(value)
            if kind != "offset" or offset < 0:
                raise ValueError(kind)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
    limit = DEFAULT_LIMIT if limit <= 0 else min(limit, MAX_LIMIT)
    chunk = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return chunk, encode_cursor(offset + limit) if more else ""


def ts_key(ts: str) -> tuple[int, int]:
    """Order ts strings numerically (they are compared as strings only at equal widths)."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)

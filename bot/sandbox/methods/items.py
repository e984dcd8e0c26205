"""pins.*, reactions.*, bookmarks.*: things attached to messages and channels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError, missing, new_id
from bot.sandbox.methods.registry import method
from bot.sandbox.methods.store import update_channel
from bot.sandbox.render import message_object


def _item_message(call: Call, args: Args, *, member: bool = True) -> tuple[RowMapping, RowMapping]:
    row = call.writable(args.str("channel")) if member else call.channel(args.str("channel"))
    ts = args.require("timestamp", "no_item_specified")
    return row, call.message(row["id"], ts)


def _set_message(call: Call, channel_id: str, ts: str, **values: Any) -> None:
    call.conn.execute(
        t.messages.update()
        .where(t.messages.c.channel_id == channel_id, t.messages.c.ts == ts)
        .values(**values)
    )


@method("pins.add")
def pins_add(call: Call, args: Args) -> dict[str, Any]:
    row, message = _item_message(call, args)
    if message["pinned_by"]:
        raise SlackError("already_pinned")
    now = call.epoch()
    _set_message(call, row["id"], message["ts"], pinned_by=call.user_id, pinned_at=now)
    shown = {**message_object(message), "pinned_to": [row["id"]]}
    call.emit(
        "pin_added",
        user=call.user_id,
        channel_id=row["id"],
        item={
            "type": "message",
            "channel": row["id"],
            "created": now,
            "created_by": call.user_id,
            "message": shown,
        },
    )
    return {}


@method("pins.remove")
def pins_remove(call: Call, args: Args) -> dict[str, Any]:
    row, message = _item_message(call, args)
    if not message["pinned_by"]:
        raise SlackError("no_pin")
    _set_message(call, row["id"], message["ts"], pinned_by=None, pinned_at=None)
    call.emit(
        "pin_removed",
        user=call.user_id,
        channel_id=row["id"],
        item={"type": "message", "channel": row["id"], "message": message_object(message)},
    )
    return {}


@method("pins.list")
def pins_list(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    query = (
        select(t.messages)
        .where(t.messages.c.channel_id == row["id"], t.messages.c.pinned_by.is_not(None))
        .order_by(t.messages.c.pinned_at.desc(), t.messages.c.ts.desc())
    )
    items = [
        {
            "type": "message",
            "created": message["pinned_at"],
            "created_by": message["pinned_by"],
            "channel": row["id"],
            "message": message_object(message),
        }
        for message in call.conn.execute(query).mappings()
    ]
    return {"items": items}


@method("reactions.add")
def reactions_add(call: Call, args: Args) -> dict[str, Any]:
    name = (args.str("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    row, message = _item_message(call, args, member=False)
    reactions = [dict(r) for r in message["reactions"]]
    for reaction in reactions:
        if reaction["name"] == name:
            if call.user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"] = [*reaction["users"], call.user_id]
            reaction["count"] = len(reaction["users"])
            break
    else:
        reactions.append({"name": name, "users": [call.user_id], "count": 1})
    _set_message(call, row["id"], message["ts"], reactions=reactions)
    call.emit(
        "reaction_added",
        user=call.user_id,
        reaction=name,
        item_user=message["user_id"],
        item={"type": "message", "channel": row["id"], "ts": message["ts"]},
    )
    return {}


@method("bookmarks.add")
def bookmarks_add(call: Call, args: Args) -> dict[str, Any]:
    row = call.writable(args.str("channel_id"))
    title = args.require("title")
    kind = args.require("type")
    link = args.str("link")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    if not link:
        raise missing("link")
    now = call.epoch()
    bookmark = {
        "id": new_id("Bk"),
        "channel_id": row["id"],
        "title": title,
        "link": link,
        "emoji": args.str("emoji"),
        "icon_url": None,
        "type": kind,
        "entity_id": args.str("entity_id"),
        "date_created": now,
        "date_updated": 0,
        "rank": chr(ord("U") + len(row["bookmarks"]) % 5),
        "last_updated_by_user_id": call.user_id,
        "last_updated_by_team_id": call.team_id,
        "shortcut_id": None,
        "app_id": "A" + call.caller["bot_id"][1:] if call.caller["bot_id"] else None,
        "parent_id": args.str("parent_id"),
    }
    update_channel(call, row["id"], bookmarks=[*row["bookmarks"], bookmark])
    return {"bookmark": bookmark}


@method("bookmarks.list")
def bookmarks_list(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel_id"))
    return {"bookmarks": list(row["bookmarks"])}

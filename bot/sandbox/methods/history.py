"""conversations.history and conversations.replies: reading a channel back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError
from bot.sandbox.methods.registry import method
from bot.sandbox.methods.store import thread_parent
from bot.sandbox.render import message_object, page, ts_key

EPHEMERAL_FLAG = "sandbox_include_ephemeral"


def _in_window(ts: str, args: Args) -> bool:
    inclusive = args.bool("inclusive")
    key = ts_key(ts)
    latest, oldest = args.str("latest"), args.str("oldest")
    if latest and (key > ts_key(latest) or (key == ts_key(latest) and not inclusive)):
        return False
    return not (oldest and (key < ts_key(oldest) or (key == ts_key(oldest) and not inclusive)))


def shown_metadata(message: dict[str, Any], args: Args) -> dict[str, Any]:
    """Leave a message's metadata out unless the caller asked with `include_all_metadata`,
    as Slack does for an app that subscribes to no metadata event types."""
    if "metadata" in message and not args.bool("include_all_metadata"):
        return {k: v for k, v in message.items() if k != "metadata"}
    return message


def on_channel(row: RowMapping) -> bool:
    """Whether a message shows in the channel itself (not only inside its thread)."""
    thread_ts = row["thread_ts"]
    return thread_ts is None or thread_ts == row["ts"] or bool(row["body"].get("reply_broadcast"))


def ephemeral_messages(call: Call, channel_id: str) -> list[dict[str, Any]]:
    """Return the ephemeral messages in a channel, marked with the one user who saw each."""
    query = select(t.ephemeral).where(t.ephemeral.c.channel_id == channel_id)
    return [
        {**row["body"], "is_ephemeral": True, "ephemeral_user": row["user_id"]}
        for row in call.conn.execute(query.order_by(t.ephemeral.c.id)).mappings()
    ]


@method("conversations.history")
def conversations_history(call: Call, args: Args) -> dict[str, Any]:
    """Answer newest first; the sandbox-only flag sandbox_include_ephemeral adds ephemerals."""
    channel = call.readable(args.str("channel"))
    query = select(t.messages).where(t.messages.c.channel_id == channel["id"])
    rows = [row for row in call.conn.execute(query).mappings() if on_channel(row)]
    shown = [shown_metadata(message_object(row), args) for row in rows]
    if args.bool(EPHEMERAL_FLAG):
        shown += ephemeral_messages(call, channel["id"])
    shown = [m for m in shown if _in_window(m["ts"], args)]
    shown.sort(key=lambda m: ts_key(m["ts"]), reverse=True)
    messages, cursor = page(args.str("cursor"), args.int("limit", 100), shown)
    pins = sum(1 for row in rows if row["pinned_by"])
    return {
        "messages": messages,
        "has_more": bool(cursor),
        "pin_count": pins,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


@method("conversations.replies")
def conversations_replies(call: Call, args: Args) -> dict[str, Any]:
    """Answer a thread oldest first, its parent message first."""
    channel = call.readable(args.str("channel"))
    ts = args.require("ts", "thread_not_found")
    parent = thread_parent(call, channel["id"], ts)
    query = select(t.messages).where(
        t.messages.c.channel_id == channel["id"], t.messages.c.thread_ts == parent["ts"]
    )
    rows = {row["ts"]: row for row in call.conn.execute(query).mappings()}
    rows[parent["ts"]] = parent
    shown = [
        shown_metadata(message_object(row), args)
        for row in rows.values()
        if _in_window(row["ts"], args)
    ]
    shown.sort(key=lambda m: ts_key(m["ts"]))
    if not shown:
        raise SlackError("thread_not_found")
    messages, cursor = page(args.str("cursor"), args.int("limit", 1000), shown)
    return {
        "messages": messages,
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }

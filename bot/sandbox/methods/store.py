"""Writes shared by several methods: messages, memberships, thread bookkeeping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Call, SlackError


def channel_type(row: RowMapping) -> str:
    if row["is_im"]:
        return "im"
    return "group" if row["is_private"] else "channel"


def author_fields(call: Call) -> dict[str, Any]:
    """Return the fields Slack puts on a message to say who wrote it."""
    fields: dict[str, Any] = {"user": call.user_id, "team": call.team_id}
    if call.caller["bot_id"]:
        app_id = "A" + call.caller["bot_id"][1:]
        fields.update(
            {
                "bot_id": call.caller["bot_id"],
                "app_id": app_id,
                "bot_profile": {
                    "id": call.caller["bot_id"],
                    "app_id": app_id,
                    "name": call.caller["name"],
                    "team_id": call.team_id,
                    "deleted": False,
                },
            }
        )
    return fields


def insert_message(
    call: Call,
    channel: RowMapping,
    body: dict[str, Any],
    *,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """Store a message (a reply when thread_ts is given) and announce it; return its body."""
    ts = call.next_ts()
    body = {"type": "message", **body, "ts": ts}
    if thread_ts:
        parent = thread_parent(call, channel["id"], thread_ts)
        thread_ts = parent["ts"]
        body.update({"thread_ts": thread_ts, "parent_user_id": parent["user_id"]})
        _count_reply(call, parent, body["user"], ts)
    call.conn.execute(
        t.messages.insert().values(
            channel_id=channel["id"],
            ts=ts,
            thread_ts=thread_ts,
            user_id=body.get("user", ""),
            body=body,
            reactions=[],
        )
    )
    call.emit(
        "message",
        **{k: v for k, v in body.items() if k != "type"},
        channel=channel["id"],
        channel_type=channel_type(channel),
        event_ts=ts,
    )
    return body


def thread_parent(call: Call, channel_id: str, thread_ts: str) -> RowMapping:
    """Return a thread's root message; a reply's ts leads to its root, as in Slack."""
    try:
        parent = call.message(channel_id, thread_ts)
    except SlackError:
        # Real Slack is lenient here; the sandbox names the mistake.
        raise SlackError("thread_not_found") from None
    if parent["thread_ts"] and parent["thread_ts"] != parent["ts"]:
        parent = call.message(channel_id, parent["thread_ts"])
    return parent


def _count_reply(call: Call, parent: RowMapping, user_id: str, ts: str) -> None:
    body = dict(parent["body"])
    users = list(body.get("reply_users", []))
    if user_id not in users:
        users.append(user_id)
    body.update(
        {
            "thread_ts": parent["ts"],
            "reply_count": body.get("reply_count", 0) + 1,
            "reply_users_count": len(users),
            "reply_users": users,
            "latest_reply": ts,
            "is_locked": False,
            "subscribed": False,
        }
    )
    call.conn.execute(
        t.messages.update()
        .where(t.messages.c.channel_id == parent["channel_id"], t.messages.c.ts == parent["ts"])
        .values(body=body, thread_ts=parent["ts"])
    )


def add_member(call: Call, channel: RowMapping, user_id: str, *, inviter: str | None) -> None:
    """Put a user in a channel with Slack's channel_join message and event."""
    ts = call.next_ts()
    call.conn.execute(
        t.members.insert().values(channel_id=channel["id"], user_id=user_id, joined=ts)
    )
    if channel["is_im"]:
        return
    body: dict[str, Any] = {
        "subtype": "channel_join",
        "user": user_id,
        "text": f"<@{user_id}> has joined the channel",
    }
    if inviter and inviter != user_id:
        body["inviter"] = inviter
    insert_message(call, channel, body)
    extra = {"inviter": inviter} if inviter and inviter != user_id else {}
    call.emit(
        "member_joined_channel",
        user=user_id,
        channel=channel["id"],
        channel_type="G" if channel["is_private"] else "C",
        team=call.team_id,
        **extra,
    )


def remove_member(call: Call, channel_id: str, user_id: str) -> None:
    call.conn.execute(
        t.members.delete().where(
            t.members.c.channel_id == channel_id, t.members.c.user_id == user_id
        )
    )


def update_channel(call: Call, channel_id: str, **values: Any) -> RowMapping:
    if values:
        update = t.channels.update().where(t.channels.c.id == channel_id).values(**values)
        call.conn.execute(update)
    query = select(t.channels).where(t.channels.c.id == channel_id)
    return call.conn.execute(query).mappings().one()

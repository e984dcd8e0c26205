"""chat.*: posting, editing, ephemeral replies and permalinks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError
from bot.sandbox.composer import stored_text
from bot.sandbox.methods.block_kit import block_errors
from bot.sandbox.methods.conversations import im_with
from bot.sandbox.methods.registry import method
from bot.sandbox.methods.store import author_fields, insert_message, thread_parent

TEXT_MAX = 40_000
PASSED_THROUGH = ("mrkdwn", "unfurl_links", "unfurl_media", "reply_broadcast", "username")


def resolve_target(call: Call, target: str | None) -> RowMapping:
    """Find where chat.* posts: a channel id, `#name`, `name`, or a user id (a DM)."""
    if not target:
        raise SlackError("channel_not_found")
    if target.startswith("#"):
        row = call.channel_by_name(target[1:])
        return call.channel(row["id"] if row else None)
    if target[0] in "UW":
        try:
            return im_with(call, target)
        except SlackError:
            raise SlackError("channel_not_found") from None
    try:
        return call.channel(target)
    except SlackError:
        row = call.channel_by_name(target)
        return call.channel(row["id"] if row else None)


def content(args: Args, *, required: bool = True) -> dict[str, Any]:
    """Return text, blocks and attachments as given, stored verbatim, or Slack's error."""
    out: dict[str, Any] = {}
    text = args.str("text")
    if text is not None:
        if len(text) > TEXT_MAX:
            raise SlackError("msg_too_long")
        out["text"] = text
    blocks = args.json("blocks", "invalid_blocks_format")
    if blocks is not None:
        refused = block_errors(blocks)
        if refused:
            raise SlackError("invalid_blocks", errors=refused)
        out["blocks"] = blocks
    attachments = args.json("attachments", "invalid_attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        out["attachments"] = attachments
    if required and not (out.get("text") or out.get("blocks") or out.get("attachments")):
        raise SlackError("no_text")
    return out


def message_metadata(args: Args) -> dict[str, Any] | None:
    """Return the message's `metadata` as Slack takes it, or Slack's error.

    Slack's message metadata: `{"event_type": "<name>", "event_payload": {...}}`
    (docs.slack.dev/messaging/message-metadata); a malformed one is refused, not dropped.
    """
    metadata = args.json("metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise SlackError("invalid_metadata_format")
    event_type, payload = metadata.get("event_type"), metadata.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def writable_target(call: Call, target: str | None) -> RowMapping:
    row = resolve_target(call, target)
    if row["is_archived"]:
        raise SlackError("is_archived")
    # Slack's rule for public channels too: an app must be in a channel to post there.
    if not call.is_member(row["id"], call.user_id):
        raise SlackError("not_in_channel")
    return row


@method("chat.postMessage")
def chat_post_message(call: Call, args: Args) -> dict[str, Any]:
    row = writable_target(call, args.str("channel"))
    body: dict[str, Any] = {**author_fields(call), "text": "", **content(args)}
    if not call.is_bot:
        # A person's message is stored as Slack's servers store it: escaped, links found.
        body["text"] = stored_text(body["text"])
    metadata = message_metadata(args)
    if metadata is not None:
        body["metadata"] = metadata
    for name in PASSED_THROUGH:
        if args.raw(name) is not None:
            body[name] = args.bool(name) if name != "username" else args.str(name)
    message = insert_message(call, row, body, thread_ts=args.str("thread_ts"))
    return {"channel": row["id"], "ts": message["ts"], "message": message}


@method("chat.update")
def chat_update(call: Call, args: Args) -> dict[str, Any]:
    row = resolve_target(call, args.str("channel"))
    message = call.message(row["id"], args.str("ts"))
    if message["user_id"] != call.user_id:
        raise SlackError("cant_update_message")
    if row["is_archived"]:
        raise SlackError("is_archived")
    body = {**message["body"], **content(args)}
    body["edited"] = {"user": call.user_id, "ts": call.next_ts()}
    call.conn.execute(
        t.messages.update()
        .where(t.messages.c.channel_id == row["id"], t.messages.c.ts == message["ts"])
        .values(body=body)
    )
    call.emit(
        "message",
        subtype="message_changed",
        channel=row["id"],
        hidden=True,
        message=body,
        previous_message=message["body"],
    )
    return {
        "channel": row["id"],
        "ts": message["ts"],
        "text": body.get("text", ""),
        "message": body,
    }


@method("chat.delete")
def chat_delete(call: Call, args: Args) -> dict[str, Any]:
    row = resolve_target(call, args.str("channel"))
    message = call.message(row["id"], args.str("ts"))
    if message["user_id"] != call.user_id:
        raise SlackError("cant_delete_message")
    call.conn.execute(
        t.messages.delete().where(
            t.messages.c.channel_id == row["id"], t.messages.c.ts == message["ts"]
        )
    )
    call.emit("message", subtype="message_deleted", channel=row["id"], deleted_ts=message["ts"])
    return {"channel": row["id"], "ts": message["ts"]}


@method("chat.postEphemeral")
def chat_post_ephemeral(call: Call, args: Args) -> dict[str, Any]:
    """Keep the message apart from history: only its one user (and the sandbox page) see it."""
    row = writable_target(call, args.str("channel"))
    user_id = args.require("user", "user_not_found")
    call.user(user_id)
    if not call.is_member(row["id"], user_id):
        raise SlackError("user_not_in_channel")
    body: dict[str, Any] = {"type": "message", **author_fields(call), "text": "", **content(args)}
    thread_ts = args.str("thread_ts")
    if thread_ts:
        body["thread_ts"] = thread_parent(call, row["id"], thread_ts)["ts"]
    ts = call.next_ts()
    body["ts"] = ts
    call.conn.execute(
        t.ephemeral.insert().values(channel_id=row["id"], user_id=user_id, ts=ts, body=body)
    )
    return {"message_ts": ts}


def permalink(base_url: str, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    link = f"{base_url}archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


@method("chat.getPermalink")
def chat_get_permalink(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    message = call.message(row["id"], args.str("message_ts"))
    link = permalink(call.base_url, row["id"], message["ts"], message["thread_ts"])
    return {"channel": row["id"], "permalink": link}

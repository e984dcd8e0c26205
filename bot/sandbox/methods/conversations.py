"""conversations.*: channel lifecycle and membership, with Slack's validation and errors."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError, new_id
from bot.sandbox.methods.registry import method
from bot.sandbox.methods.store import add_member, insert_message, remove_member, update_channel
from bot.sandbox.render import channel_object, page, ts_key

NAME_MAX = 80
TOPIC_MAX = 250
# Slack: lowercase letters, numbers, hyphens and underscores, in any script
# (docs.slack.dev/reference/methods/conversations.create). A letter with no case (kana, han,
# hangul: Lo, Lm) is lowercase enough; uppercase and titlecase letters, emoji, spaces and
# periods are `invalid_name_specials`. Marks stay with their letters (Devanagari, Thai).
NAME_LETTERS = frozenset({"Ll", "Lo", "Lm", "Mn", "Mc", "Nd"})
CHANNEL_TYPES = {"public_channel", "private_channel", "im", "mpim"}


def validate_name(name: str | None) -> str:
    """Return a valid channel name or raise Slack's error for it."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    if not all(c in "-_" or unicodedata.category(c) in NAME_LETTERS for c in name):
        raise SlackError("invalid_name_specials")
    if all(c in "-_" for c in name):
        raise SlackError("invalid_name_punctuation")
    return name


def create_channel(call: Call, name: str | None, *, is_private: bool = False) -> RowMapping:
    """Create a channel owned and joined by the caller."""
    name = validate_name(name)
    if call.channel_by_name(name) is not None:
        raise SlackError("name_taken")
    channel_id = new_id("C")
    empty = {"value": "", "creator": "", "last_set": 0}
    call.conn.execute(
        t.channels.insert().values(
            id=channel_id,
            name=name,
            is_private=is_private,
            is_im=False,
            is_general=False,
            is_archived=False,
            creator=call.user_id,
            created=call.epoch(),
            created_ts=call.next_ts(),
            topic=empty,
            purpose=empty,
            bookmarks=[],
        )
    )
    row = update_channel(call, channel_id)
    add_member(call, row, call.user_id, inviter=None)
    call.emit(
        "channel_created",
        channel={
            "id": channel_id,
            "name": name,
            "created": row["created"],
            "creator": call.user_id,
        },
    )
    return row


def im_with(call: Call, user_id: str) -> RowMapping:
    """Return (opening if needed) the direct-message conversation between caller and user."""
    call.user(user_id)
    pair = sorted({call.user_id, user_id})
    name = "im-" + "-".join(pair).lower()
    row = call.channel_by_name(name)
    if row is not None:
        return row
    channel_id = new_id("D")
    empty = {"value": "", "creator": "", "last_set": 0}
    call.conn.execute(
        t.channels.insert().values(
            id=channel_id,
            name=name,
            is_private=True,
            is_im=True,
            is_general=False,
            is_archived=False,
            creator=call.user_id,
            created=call.epoch(),
            created_ts=call.next_ts(),
            topic=empty,
            purpose=empty,
            bookmarks=[],
        )
    )
    row = update_channel(call, channel_id)
    for member in pair:
        add_member(call, row, member, inviter=None)
    return row


@method("conversations.create")
def conversations_create(call: Call, args: Args) -> dict[str, Any]:
    row = create_channel(call, args.str("name"), is_private=args.bool("is_private"))
    return {"channel": channel_object(call, row)}


@method("conversations.info")
def conversations_info(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    return {"channel": channel_object(call, row, num_members=args.bool("include_num_members"))}


@method("conversations.invite")
def conversations_invite(call: Call, args: Args) -> dict[str, Any]:
    row = call.writable(args.str("channel"))
    if row["is_im"]:
        raise SlackError("method_not_supported_for_channel_type")
    user_ids = list(dict.fromkeys(args.ids("users")))
    if not user_ids:
        raise SlackError("no_user")
    errors: list[dict[str, Any]] = []
    valid: list[str] = []
    for user_id in user_ids:
        error = _invite_error(call, row["id"], user_id)
        if error:
            errors.append({"user": user_id, "ok": False, "error": error})
        else:
            valid.append(user_id)
    if errors and (not args.bool("force") or not valid):
        raise SlackError(errors[0]["error"], errors=errors)
    for user_id in valid:
        add_member(call, row, user_id, inviter=call.user_id)
    answer: dict[str, Any] = {"channel": channel_object(call, row)}
    if errors:
        answer["errors"] = errors
    return answer


def _invite_error(call: Call, channel_id: str, user_id: str) -> str | None:
    if user_id == call.user_id:
        return "cant_invite_self"
    try:
        call.user(user_id)
    except SlackError as exc:
        return exc.error
    if call.is_member(channel_id, user_id):
        return "already_in_channel"
    return None


@method("conversations.join")
def conversations_join(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    if row["is_private"] or row["is_im"]:
        raise SlackError("method_not_supported_for_channel_type")
    if row["is_archived"]:
        raise SlackError("is_archived")
    if call.is_member(row["id"], call.user_id):
        return {
            "channel": channel_object(call, row),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    add_member(call, row, call.user_id, inviter=None)
    return {"channel": channel_object(call, row)}


@method("conversations.kick")
def conversations_kick(call: Call, args: Args) -> dict[str, Any]:
    row = call.writable(args.str("channel"))
    user_id = args.require("user", "user_not_found")
    call.user(user_id)
    if user_id == call.user_id:
        raise SlackError("cant_kick_self")
    if row["is_general"]:
        raise SlackError("cant_kick_from_general")
    if not call.is_member(row["id"], user_id):
        raise SlackError("not_in_channel")
    remove_member(call, row["id"], user_id)
    insert_message(
        call,
        row,
        {"subtype": "channel_leave", "user": user_id, "text": f"<@{user_id}> has left the channel"},
    )
    call.emit("member_left_channel", user=user_id, channel=row["id"], team=call.team_id)
    return {}


def _set_text(call: Call, args: Args, field: str) -> dict[str, Any]:
    row = call.writable(args.str("channel"))
    value = args.str(field, "") or ""
    if len(value) > TOPIC_MAX:
        raise SlackError("too_long")
    setting = {"value": value, "creator": call.user_id, "last_set": call.epoch()}
    row = update_channel(call, row["id"], **{field: setting})
    text = f"set the channel {field}: {value}" if value else f"cleared the channel {field}"
    body = {"subtype": f"channel_{field}", "user": call.user_id, "text": text, field: value}
    insert_message(call, row, body)
    return {"channel": channel_object(call, row), field: value}


@method("conversations.setTopic")
def conversations_set_topic(call: Call, args: Args) -> dict[str, Any]:
    return _set_text(call, args, "topic")


@method("conversations.setPurpose")
def conversations_set_purpose(call: Call, args: Args) -> dict[str, Any]:
    return _set_text(call, args, "purpose")


@method("conversations.archive")
def conversations_archive(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    if row["is_archived"]:
        raise SlackError("already_archived")
    if row["is_general"]:
        raise SlackError("cant_archive_general")
    if row["is_im"]:
        raise SlackError("method_not_supported_for_channel_type")
    if not call.is_member(row["id"], call.user_id):
        raise SlackError("not_in_channel")
    insert_message(
        call,
        row,
        {"subtype": "channel_archive", "user": call.user_id, "text": "archived the channel"},
    )
    update_channel(call, row["id"], is_archived=True)
    call.emit("channel_archive", channel=row["id"], user=call.user_id)
    return {}


@method("conversations.members")
def conversations_members(call: Call, args: Args) -> dict[str, Any]:
    row = call.channel(args.str("channel"))
    members, cursor = page(args.str("cursor"), args.int("limit", 100), call.member_ids(row["id"]))
    return {"members": members, "response_metadata": {"next_cursor": cursor}}


def channel_kind(row: RowMapping) -> str:
    """The conversation type a `types` argument names this channel by."""
    return "im" if row["is_im"] else "private_channel" if row["is_private"] else "public_channel"


@method("conversations.list")
def conversations_list(call: Call, args: Args) -> dict[str, Any]:
    types = set(args.ids("types")) or {"public_channel"}
    if not types <= CHANNEL_TYPES:
        raise SlackError("invalid_types")
    query = select(t.channels)
    if args.bool("exclude_archived"):
        query = query.where(t.channels.c.is_archived.is_(False))
    rows = sorted(call.conn.execute(query).mappings(), key=lambda r: ts_key(r["created_ts"]))
    visible = []
    for row in rows:
        kind = channel_kind(row)
        if kind not in types:
            continue
        if kind != "public_channel" and not call.is_member(row["id"], call.user_id):
            continue
        visible.append(row)
    rows, cursor = page(args.str("cursor"), args.int("limit", 100), visible)
    return {
        "channels": [channel_object(call, row) for row in rows],
        "response_metadata": {"next_cursor": cursor},
    }


@method("conversations.open")
def conversations_open(call: Call, args: Args) -> dict[str, Any]:
    users = [u for u in args.ids("users") if u != call.user_id]
    if args.str("channel"):
        row = call.channel(args.str("channel"))
    elif len(users) == 1:
        row = im_with(call, users[0])
    else:
        raise SlackError("users_list_not_supplied" if not users else "not_enough_users")
    return {"channel": channel_object(call, row) if args.bool("return_im") else {"id": row["id"]}}

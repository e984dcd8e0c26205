"""auth.test, users.*, usergroups.*: who is in the workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, func, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError
from bot.sandbox.methods.conversations import CHANNEL_TYPES, channel_kind
from bot.sandbox.methods.registry import method
from bot.sandbox.render import channel_object, page, ts_key, user_object


def team_name(call: Call) -> str:
    query = select(t.kv.c.value).where(t.kv.c.key == "team_name")
    return call.conn.execute(query).scalar_one()


@method("auth.test")
def auth_test(call: Call, args: Args) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "url": call.base_url,
        "team": team_name(call),
        "user": call.caller["name"],
        "team_id": call.team_id,
        "user_id": call.user_id,
        "is_enterprise_install": False,
    }
    if call.caller["bot_id"]:
        answer["bot_id"] = call.caller["bot_id"]
    return answer


@method("users.info")
def users_info(call: Call, args: Args) -> dict[str, Any]:
    row = call.user(args.str("user"))
    return {"user": user_object(row, call.team_id, call.epoch())}


@method("users.list")
def users_list(call: Call, args: Args) -> dict[str, Any]:
    query = select(t.users).order_by(t.users.c.seq, t.users.c.id)
    rows = list(call.conn.execute(query).mappings())
    chunk, cursor = page(args.str("cursor"), args.int("limit", 0), rows)
    return {
        "members": [user_object(row, call.team_id, call.epoch()) for row in chunk],
        "cache_ts": call.epoch(),
        "response_metadata": {"next_cursor": cursor},
    }


@method("users.lookupByEmail")
def users_lookup_by_email(call: Call, args: Args) -> dict[str, Any]:
    email = args.require("email", "users_not_found").strip().lower()
    query = select(t.users).where(func.lower(t.users.c.email) == email)
    row = call.conn.execute(query).mappings().first()
    if row is None:
        raise SlackError("users_not_found")
    return {"user": user_object(row, call.team_id, call.epoch())}


def usergroup_object(call: Call, row: RowMapping, *, include_users: bool) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": row["id"],
        "team_id": call.team_id,
        "is_usergroup": True,
        "name": row["name"],
        "description": "",
        "handle": row["handle"],
        "is_external": False,
        "date_delete": 0,
        "auto_type": None,
        "user_count": len(row["users"]),
    }
    if include_users:
        group["users"] = list(row["users"])
    return group


@method("usergroups.users.list")
def usergroups_users_list(call: Call, args: Args) -> dict[str, Any]:
    group_id = args.require("usergroup", "no_such_subteam")
    query = select(t.usergroups).where(t.usergroups.c.id == group_id)
    row = call.conn.execute(query).mappings().first()
    if row is None:
        raise SlackError("no_such_subteam")
    return {"users": list(row["users"])}


@method("usergroups.list")
def usergroups_list(call: Call, args: Args) -> dict[str, Any]:
    query = select(t.usergroups).order_by(t.usergroups.c.handle)
    include = args.bool("include_users")
    rows = call.conn.execute(query).mappings()
    return {"usergroups": [usergroup_object(call, row, include_users=include) for row in rows]}


@method("users.conversations")
def users_conversations(call: Call, args: Args) -> dict[str, Any]:
    """The conversations a user is in (the caller by default); private ones only where the
    caller is in them too."""
    types = set(args.ids("types")) or {"public_channel"}
    if not types <= CHANNEL_TYPES:
        raise SlackError("invalid_types")
    user_id = call.user(args.str("user") or call.user_id)["id"]
    query = (
        select(t.channels)
        .join(t.members, t.members.c.channel_id == t.channels.c.id)
        .where(t.members.c.user_id == user_id)
    )
    if args.bool("exclude_archived"):
        query = query.where(t.channels.c.is_archived.is_(False))
    rows = sorted(call.conn.execute(query).mappings(), key=lambda r: ts_key(r["created_ts"]))
    visible = [
        row
        for row in rows
        if channel_kind(row) in types
        and (channel_kind(row) == "public_channel" or call.is_member(row["id"], call.user_id))
    ]
    shown, cursor = page(args.str("cursor"), args.int("limit", 100), visible)
    return {
        "channels": [channel_object(call, row) for row in shown],
        "response_metadata": {"next_cursor": cursor},
    }

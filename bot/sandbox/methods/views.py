"""views.*: modals and App Home tabs, stored so the sandbox page can show and submit them."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError, new_id
from bot.sandbox.methods.block_kit import view_errors
from bot.sandbox.methods.registry import method

TRIGGER_PREFIX = "trigger:"
# docs.slack.dev/reference/methods/views.open: a trigger_id is good for 3 seconds, once,
# and looks like "132456.7890123.abcdef" (`invalid_trigger_id` otherwise).
TRIGGER_TTL = 3.0
TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


def _view_arg(call: Call, args: Args, kind: str | None = None) -> dict[str, Any]:
    """The view argument, or `invalid_arguments` naming each Block Kit rule it breaks."""
    view = args.json("view", "invalid_arguments")
    if view is None:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: view"]},
        )
    problems = view_errors(view, kind)
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})
    return dict(view)


def _view_object(call: Call, view_id: str, view: dict[str, Any], view_hash: str) -> dict[str, Any]:
    bot_id = call.caller["bot_id"]
    return {
        "id": view_id,
        "team_id": call.team_id,
        "type": view["type"],
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "blocks": view["blocks"],
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": view_hash,
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": "A" + bot_id[1:] if bot_id else None,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": call.team_id,
        "bot_id": bot_id,
    }


def _new_hash(call: Call) -> str:
    return f"{call.epoch()}.{secrets.token_hex(4)}"


def _store(call: Call, view_id: str | None, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
    view_hash = _new_hash(call)
    values = {"user_id": user_id, "hash": view_hash, "view": view, "closed": False}
    values["external_id"] = view.get("external_id") or None
    if view_id is None:
        view_id = new_id("V")
        call.conn.execute(t.views.insert().values(id=view_id, **values))
    else:
        call.conn.execute(t.views.update().where(t.views.c.id == view_id).values(**values))
    return _view_object(call, view_id, view, view_hash)


def new_trigger(call: Call, user_id: str) -> str:
    """Issue a trigger_id for user_id, as Slack sends with a command, a click, a submission."""
    trigger_id = f"{call.epoch()}.{secrets.randbelow(10**10)}.{secrets.token_hex(8)}"
    issued = {"user": user_id, "at": call.clock.now().timestamp(), "used": False}
    call.conn.execute(
        t.kv.insert().values(key=TRIGGER_PREFIX + trigger_id, value=json.dumps(issued))
    )
    return trigger_id


def exchange_trigger(call: Call, trigger_id: str) -> str:
    """Use a trigger_id up and return the user it was issued for, or Slack's error."""
    if not TRIGGER_FORMAT.match(trigger_id):
        raise SlackError("invalid_trigger_id")
    key = TRIGGER_PREFIX + trigger_id
    value = call.conn.execute(select(t.kv.c.value).where(t.kv.c.key == key)).scalar()
    issued = _issued(value)
    if issued is None:
        raise SlackError("invalid_trigger_id")
    if issued["used"]:
        raise SlackError("exchanged_trigger_id")
    if call.clock.now().timestamp() - issued["at"] > TRIGGER_TTL:
        raise SlackError("expired_trigger_id")
    issued["used"] = True
    call.conn.execute(t.kv.update().where(t.kv.c.key == key).values(value=json.dumps(issued)))
    return str(issued["user"])


def _issued(value: str | None) -> dict[str, Any] | None:
    # A sandbox database from before expiry kept only the user: such a trigger is long dead.
    try:
        issued = json.loads(value) if value else None
    except ValueError:
        return None
    return issued if isinstance(issued, dict) else None


@method("views.open")
def views_open(call: Call, args: Args) -> dict[str, Any]:
    trigger_id = args.require("trigger_id", "invalid_trigger_id")
    view = _view_arg(call, args, "modal")
    # The view is checked first: a refused view leaves the trigger usable, as a retry needs.
    return {"view": _store(call, None, exchange_trigger(call, trigger_id), view)}


@method("views.push")
def views_push(call: Call, args: Args) -> dict[str, Any]:
    return views_open(call, args)


def _find(call: Call, args: Args) -> RowMapping:
    view_id, external_id = args.str("view_id"), args.str("external_id")
    if view_id:
        query = select(t.views).where(t.views.c.id == view_id)
    elif external_id:
        query = select(t.views).where(t.views.c.external_id == external_id)
    else:
        raise SlackError("not_found")
    row = call.conn.execute(query).mappings().first()
    if row is None:
        raise SlackError("not_found")
    return row


@method("views.update")
def views_update(call: Call, args: Args) -> dict[str, Any]:
    row = _find(call, args)
    view = _view_arg(call, args, row["view"]["type"])
    if args.str("hash") and args.str("hash") != row["hash"]:
        raise SlackError("hash_conflict")
    return {"view": _store(call, row["id"], row["user_id"], view)}


@method("views.publish")
def views_publish(call: Call, args: Args) -> dict[str, Any]:
    user_id = args.require("user_id", "user_not_found")
    call.user(user_id)
    view = _view_arg(call, args, "home")
    query = select(t.views).where(t.views.c.user_id == user_id)
    existing = [row for row in call.conn.execute(query).mappings() if row["view"]["type"] == "home"]
    current = existing[0] if existing else None
    if current and args.str("hash") and args.str("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    return {"view": _store(call, current["id"] if current else None, user_id, view)}

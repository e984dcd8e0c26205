"""What Slack's own client and servers do in a workspace on the app's behalf.

Ack texts and response_url posts appear as the app even where it is not a member; buttons are
found on messages; modals are listed, closed and their inputs turned into `state.values`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select

from bot.sandbox import tables as t
from bot.sandbox.base import Args, Call, SlackError
from bot.sandbox.methods.chat import content
from bot.sandbox.methods.store import author_fields, insert_message
from bot.sandbox.methods.views import _view_object
from bot.sandbox.render import message_object, ts_key
from bot.sandbox.workspace import VIEW_OPENED_PREFIX, Sandbox

# Slack's own bot user: it says what Slack's client refuses or what failed.
SLACKBOT = "USLACKBOT"


class NotFound(LookupError):
    """A user, channel, message, button or view the caller named does not exist."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def find_user(call: Call, user: str) -> RowMapping:
    """Return a user by id or name."""
    query = select(t.users).where((t.users.c.id == user) | (t.users.c.name == user.lstrip("@")))
    row = call.conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("user_not_found")
    return row


def find_channel(call: Call, channel: str) -> RowMapping:
    """Return a conversation by id, name or `#name`."""
    query = select(t.channels).where(
        (t.channels.c.id == channel) | (t.channels.c.name == channel.lstrip("#"))
    )
    row = call.conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("channel_not_found")
    return row


def post_as_app(
    sandbox: Sandbox, channel_id: str, body: dict[str, Any], *, user_id: str | None
) -> str:
    """Show an app message in a channel: to everyone, or only to user_id; return its ts."""
    with sandbox.as_app() as call:
        row = find_channel(call, channel_id)
        message = {**author_fields(call), "text": "", **_content(body)}
        if user_id is None:
            return insert_message(call, row, message)["ts"]
        ts = call.next_ts()
        message = {"type": "message", **message, "ts": ts}
        call.conn.execute(
            t.ephemeral.insert().values(channel_id=row["id"], user_id=user_id, ts=ts, body=message)
        )
        call.emit("sandbox_ephemeral", channel=row["id"], user=user_id)
        return ts


def post_as_slackbot(sandbox: Sandbox, channel_id: str, text: str, *, user_id: str) -> str:
    """Show Slackbot's ephemeral note to one user (a refused or failed command); its ts."""
    with sandbox.as_app() as call:
        ts = call.next_ts()
        message = {"type": "message", "user": SLACKBOT, "username": "Slackbot", "text": text}
        call.conn.execute(
            t.ephemeral.insert().values(
                channel_id=channel_id, user_id=user_id, ts=ts, body={**message, "ts": ts}
            )
        )
        call.emit("sandbox_ephemeral", channel=channel_id, user=user_id)
        return ts


def replace_original(
    sandbox: Sandbox, channel_id: str, ts: str, body: dict[str, Any] | None, *, ephemeral_for: str
) -> bool:
    """Replace (or with body None, delete) the message a button was on; False if it is gone."""
    with sandbox.as_app() as call:
        query = select(t.messages).where(
            t.messages.c.channel_id == channel_id, t.messages.c.ts == ts
        )
        row = call.conn.execute(query).mappings().first()
        if row is None:
            return _replace_ephemeral(call, channel_id, ts, body, ephemeral_for)
        where = (t.messages.c.channel_id == channel_id) & (t.messages.c.ts == ts)
        if body is None:
            call.conn.execute(t.messages.delete().where(where))
            call.emit("message", subtype="message_deleted", channel=channel_id, deleted_ts=ts)
            return True
        new = {**row["body"], "text": "", **_content(body)}
        if "blocks" not in body:
            new.pop("blocks", None)
        new["edited"] = {"user": call.user_id, "ts": call.next_ts()}
        call.conn.execute(t.messages.update().where(where).values(body=new))
        call.emit(
            "message",
            subtype="message_changed",
            channel=channel_id,
            hidden=True,
            message=new,
            previous_message=row["body"],
        )
        return True


def _replace_ephemeral(
    call: Call, channel_id: str, ts: str, body: dict[str, Any] | None, user_id: str
) -> bool:
    where = (
        (t.ephemeral.c.channel_id == channel_id)
        & (t.ephemeral.c.ts == ts)
        & (t.ephemeral.c.user_id == user_id)
    )
    row = call.conn.execute(select(t.ephemeral).where(where)).mappings().first()
    if row is None:
        return False
    if body is None:
        call.conn.execute(t.ephemeral.delete().where(where))
    else:
        new = {**row["body"], "text": "", **_content(body)}
        call.conn.execute(t.ephemeral.update().where(where).values(body=new))
    call.emit("sandbox_ephemeral", channel=channel_id, user=user_id)
    return True


def _content(body: dict[str, Any]) -> dict[str, Any]:
    """Text, blocks and attachments from a response body, validated like chat.postMessage."""
    try:
        return content(Args(body))
    except SlackError:
        return {"text": str(body.get("text") or "")}


def message_with_button(
    sandbox: Sandbox,
    channel_id: str,
    user_id: str,
    action_id: str,
    *,
    message_ts: str | None = None,
    value: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Find a button: (message, its block, the button), newest message first unless ts given."""
    with sandbox.as_app() as call:
        query = select(t.messages).where(t.messages.c.channel_id == channel_id)
        found = [message_object(m) for m in call.conn.execute(query).mappings()]
        query = select(t.ephemeral).where(
            t.ephemeral.c.channel_id == channel_id, t.ephemeral.c.user_id == user_id
        )
        for row in call.conn.execute(query).mappings():
            found.append({**row["body"], "is_ephemeral": True})
    found.sort(key=lambda m: ts_key(m["ts"]), reverse=True)
    if message_ts is not None:
        found = [m for m in found if m["ts"] == message_ts]
        if not found:
            raise NotFound("message_not_found")
    for message in found:
        for block in message.get("blocks") or []:
            for element in buttons(block):
                if element.get("action_id") == action_id and (
                    value is None or element.get("value") == value
                ):
                    return message, block, element
    raise NotFound("action_not_found")


def buttons(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a block (an actions block's, or a section's accessory)."""
    if block.get("type") == "actions":
        return [e for e in block.get("elements", []) if e.get("type") == "button"]
    accessory = block.get("accessory")
    if block.get("type") == "section" and isinstance(accessory, dict):
        return [accessory] if accessory.get("type") == "button" else []
    return []


def open_views(sandbox: Sandbox, user_id: str) -> list[dict[str, Any]]:
    """Return a user's open modals as view objects, the newest (top of the stack) last."""
    with sandbox.as_app() as call:
        query = select(t.views).where(t.views.c.user_id == user_id, t.views.c.closed.is_(False))
        rows = [r for r in call.conn.execute(query).mappings() if r["view"]["type"] == "modal"]
        keys = [VIEW_OPENED_PREFIX + r["id"] for r in rows]
        query = select(t.kv.c.key, t.kv.c.value).where(t.kv.c.key.in_(keys))
        opened = {key: value for key, value in call.conn.execute(query)}
        rows.sort(key=lambda r: ts_key(opened.get(VIEW_OPENED_PREFIX + r["id"], "0")))
        return [_view_object(call, r["id"], r["view"], r["hash"]) for r in rows]


def home_view(sandbox: Sandbox, user_id: str) -> dict[str, Any] | None:
    """Return the App Home view published for a user, if any."""
    with sandbox.as_app() as call:
        query = select(t.views).where(t.views.c.user_id == user_id)
        for row in call.conn.execute(query).mappings():
            if row["view"]["type"] == "home":
                return _view_object(call, row["id"], row["view"], row["hash"])
    return None


def close_views(sandbox: Sandbox, view_ids: list[str], *, user_id: str) -> None:
    """Close modals (after a submission without errors, or the user's Cancel)."""
    with sandbox.as_app() as call:
        call.conn.execute(t.views.update().where(t.views.c.id.in_(view_ids)).values(closed=True))
        for view_id in view_ids:
            call.emit("sandbox_view", method="close", user=user_id, view_id=view_id)


def set_view(sandbox: Sandbox, view_id: str, view: dict[str, Any], *, user_id: str) -> None:
    """Replace a modal's content, as `response_action: update` does."""
    with sandbox.as_app() as call:
        call.conn.execute(t.views.update().where(t.views.c.id == view_id).values(view=view))
        call.emit("sandbox_view", method="update", user=user_id, view_id=view_id)


def state_values(view: dict[str, Any], submitted: dict[str, Any]) -> tuple[dict, dict[str, str]]:
    """Build `state.values` from block_id -> value; also the errors Slack's client would show.

    Unsubmitted inputs keep their initial value, as the modal showed it.
    """
    values: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for block in view.get("blocks", []):
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if block.get("type") != "input" or not block_id or not action_id:
            continue
        kind = element.get("type")
        given = submitted.get(block_id)
        if kind in ("static_select", "radio_buttons"):
            options = _options(element)
            if given is None:
                option = element.get("initial_option")
            else:
                option = next((o for o in options if o.get("value") == given), None)
            state: dict[str, Any] = {"type": kind, "selected_option": option}
            empty = option is None
        elif kind == "checkboxes":
            # Slack sends the ticked options whole, in `selected_options`.
            if given is None:
                chosen = list(element.get("initial_options") or [])
            else:
                ticked = [given] if isinstance(given, str) else list(given)
                chosen = [o for o in _options(element) if o.get("value") in ticked]
            state = {"type": kind, "selected_options": chosen}
            empty = not chosen
        else:
            text = element.get("initial_value") if given is None else str(given)
            state = {"type": kind or "plain_text_input", "value": text or None}
            empty = not text
        values[block_id] = {action_id: state}
        if empty and not block.get("optional"):
            errors[block_id] = "Please complete this required field."
    return values, errors


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options

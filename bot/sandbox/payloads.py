"""What Slack sends an app, shape by shape: the slash command's form, a button's
block_actions, a modal's view_submission and the Events API envelope. The driver decides
when to send them; this module only knows how they look on the wire."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Slack's deprecated verification token; Bolt ignores it, payloads still carry one.
VERIFICATION_TOKEN = "sandboxverificationtoken"
TEAM_DOMAIN = "warroom-sandbox"


@dataclass(frozen=True)
class AppIdentity:
    """The workspace and app every payload names."""

    team_id: str
    app_id: str
    bot_user: str


def channel_name(channel: Any) -> str:
    """The channel's name as a slash command's form gives it (Slack's words for DMs)."""
    if channel["is_im"]:
        return "directmessage"
    return "privategroup" if channel["is_private"] else channel["name"]


def user_object(app: AppIdentity, user: Any) -> dict[str, str]:
    """The `user` of an interaction payload."""
    return {
        "id": user["id"],
        "username": user["name"],
        "name": user["name"],
        "team_id": app.team_id,
    }


def slash_command(
    app: AppIdentity,
    user: Any,
    channel: Any,
    command: str,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form Slack posts for a slash command; `text` as Slack encodes what was typed."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": app.team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel["id"],
        "channel_name": channel_name(channel),
        "user_id": user["id"],
        "user_name": user["name"],
        "command": command,
        "text": text,
        "api_app_id": app.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def button_action(
    action_id: str, block: dict[str, Any], button: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """One clicked button, as a block_actions payload's `actions` lists it."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block.get("block_id", ""),
        "text": button.get("text"),
        "type": "button",
        "action_ts": f"{now.timestamp():.6f}",
    }
    action.update({key: button[key] for key in ("value", "style") if key in button})
    return action


def block_actions(
    app: AppIdentity,
    user: Any,
    container: dict[str, Any],
    action: dict[str, Any],
    *,
    trigger_id: str,
    **surface: Any,
) -> dict[str, Any]:
    """A click's payload; `surface` adds what its container carries (channel, message,
    state and response_url for a message; the view for App Home)."""
    return {
        "type": "block_actions",
        "user": user_object(app, user),
        "api_app_id": app.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": app.team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        **surface,
        "actions": [action],
    }


def view_submission(
    app: AppIdentity, user: Any, view: dict[str, Any], state: dict[str, Any], *, trigger_id: str
) -> dict[str, Any]:
    """A modal submitted with its inputs' `state` values."""
    return {
        "type": "view_submission",
        "team": {"id": app.team_id, "domain": TEAM_DOMAIN},
        "user": user_object(app, user),
        "api_app_id": app.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(app: AppIdentity, event: dict[str, Any], now: datetime) -> tuple[bytes, str]:
    """An Events API envelope around `event`: its bytes and its fresh event id."""
    event_id = "Ev" + secrets.token_hex(5).upper()
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": app.team_id,
        "api_app_id": app.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(now.timestamp()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": app.team_id,
                "user_id": app.bot_user,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }
    return json.dumps(envelope).encode(), event_id

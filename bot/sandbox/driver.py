"""Drive the bot the way Slack does: signed slash commands, clicks, view submissions, events.

Requests go to the sandbox's `events_url` (the bot's `/slack/events`); what the app answers
shows up in the workspace as Slack would show it. Works from Python and behind HTTP routes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from bot.sandbox import payloads, surface
from bot.sandbox.composer import typed_command_text
from bot.sandbox.delivery import RETRY_DELAYS, AppAnswer, EventQueue, post_to_app
from bot.sandbox.responses import DriverError, ResponseUrls
from bot.sandbox.socket import SocketHub
from bot.sandbox.surface import NotFound
from bot.sandbox.workspace import Sandbox

FORWARDED_EVENTS = frozenset(
    {"reaction_added", "pin_added", "member_joined_channel", "app_home_opened", "file_shared"}
)
FORM = "application/x-www-form-urlencoded"
# The slash commands the app's manifest registers (slack-app-manifest.yaml); Slack's client
# refuses any other itself, and the app never hears of it.
APP_COMMANDS = frozenset({"/incident"})
NOT_A_COMMAND = (
    '{command} is not a valid command. In Slack, all messages that start with the "/" '
    "character are interpreted as commands.\n\nIf you are trying to send a message and not "
    'run a command, try preceding the "/" with an empty space.'
)


class Driver:
    """Slack's side of the conversation with the app, for one sandbox."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        sandbox_url: str | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        should_escape: bool = True,
    ) -> None:
        self.sandbox = sandbox
        # The command's "Escape channels, users, and links" setting: warroom's manifests
        # set `should_escape: true`.
        self.should_escape = should_escape
        self.sandbox_url = sandbox_url
        self.commands = APP_COMMANDS
        self._origin: str | None = None
        sandbox.driver = self
        self._http = httpx.Client()
        self.responses = ResponseUrls(sandbox)
        info = sandbox.info()
        self._app = payloads.AppIdentity(
            team_id=info["team"]["id"],
            app_id=info["bot"]["app_id"],
            bot_user=info["bot"]["user_id"],
        )
        self._bot_token = info["bot_token"]
        self._secret = info["signing_secret"]
        # Socket Mode: while the app holds a connection, everything goes over it instead.
        self.sockets = SocketHub(self._app.app_id)
        self.events = EventQueue(self._send_event, retry_delays=retry_delays)
        self._unsubscribe = sandbox.subscribe(self._on_event)

    @property
    def events_url(self) -> str | None:
        """The app's Request URL: as configured, else `/slack/events` where the sandbox is."""
        if self.sandbox.events_url:
            return self.sandbox.events_url
        return f"{self._origin}/slack/events" if self._origin else None

    def note_origin(self, sandbox_url: str) -> None:
        """Remember how clients reach the sandbox: in sandbox mode the app is on that server."""
        if self._origin is None:
            parts = urlsplit(sandbox_url)
            self._origin = f"{parts.scheme}://{parts.netloc}"

    def close(self) -> None:
        self._unsubscribe()
        self.events.stop()
        self._http.close()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued events are delivered (or given up); False on timeout."""
        return self.events.join(timeout)

    # -- slash commands ----------------------------------------------------------------------

    def command(
        self, user: str, channel: str, text: str, *, sandbox_url: str | None = None
    ) -> dict[str, Any]:
        """Run `/command args` typed by user in channel (ids or names); show the ack."""
        command, _, rest = text.strip().partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise DriverError("invalid_command")
        u, c = self._who_where(user, channel)
        self._may_type_in(u, c)
        if command not in self.commands:
            message = NOT_A_COMMAND.format(command=command)
            surface.post_as_slackbot(self.sandbox, c["id"], message, user_id=u["id"])
            raise DriverError("invalid_command", message=message)
        trigger_id = self.sandbox.issue_trigger(u["id"])
        response_url = self._response_url(sandbox_url, c["id"], u["id"], None)
        typed = self._typed(u["id"], rest.strip())
        form = payloads.slash_command(
            self._app, u, c, command, typed, response_url=response_url, trigger_id=trigger_id
        )
        answer = self._post("slash_commands", form)
        if not answer.ok:
            timeout = answer.failure in ("http_timeout", "socket_timeout")
            error = "operation_timeout" if timeout else "dispatch_failed"
            text = f'{command} failed with the error "{error}"'
            surface.post_as_slackbot(self.sandbox, c["id"], text, user_id=u["id"])
            raise DriverError(error, app_status=answer.status, message=text)
        body = answer.json()
        if body is None and answer.body.strip():
            body = {"text": answer.body.decode(errors="replace")}
        if body and (body.get("text") or body.get("blocks")):
            shown_to = None if body.get("response_type") == "in_channel" else u["id"]
            surface.post_as_app(self.sandbox, c["id"], body, user_id=shown_to)
        return {
            "ok": True,
            "channel": c["id"],
            "response": body,
            "trigger_id": trigger_id,
            "response_url": response_url,
        }

    # -- interactivity -----------------------------------------------------------------------

    def click(
        self,
        user: str,
        channel: str,
        action_id: str,
        *,
        message_ts: str | None = None,
        value: str | None = None,
        sandbox_url: str | None = None,
    ) -> dict[str, Any]:
        """Click a button on a message (the newest carrying it unless message_ts is given)."""
        u, c = self._who_where(user, channel)
        self._may_see(u, c)
        message, block, button = surface.message_with_button(
            self.sandbox, c["id"], u["id"], action_id, message_ts=message_ts, value=value
        )
        ephemeral = bool(message.pop("is_ephemeral", False))
        trigger_id = self.sandbox.issue_trigger(u["id"])
        response_url = self._response_url(sandbox_url, c["id"], u["id"], message["ts"])
        action = payloads.button_action(action_id, block, button, self.sandbox.clock.now())
        container = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": c["id"],
            "is_ephemeral": ephemeral,
        }
        shown = {} if ephemeral else {"message": message}
        payload = payloads.block_actions(
            self._app,
            u,
            container,
            action,
            trigger_id=trigger_id,
            channel={"id": c["id"], "name": payloads.channel_name(c)},
            state={"values": {}},
            response_url=response_url,
            **shown,
        )
        answer = self._post("interactive", payload)
        if not answer.ok:
            raise DriverError("dispatch_failed", app_status=answer.status)
        return {
            "ok": True,
            "channel": c["id"],
            "message_ts": message["ts"],
            "trigger_id": trigger_id,
            "response_url": response_url,
        }

    def submit_view(
        self, user: str, values: dict[str, Any], *, view_id: str | None = None
    ) -> dict[str, Any]:
        """Submit a user's open modal (the newest unless view_id) with block_id -> value."""
        u = self._user(user)
        views = surface.open_views(self.sandbox, u["id"])
        view = next((v for v in reversed(views) if view_id in (None, v["id"])), None)
        if view is None:
            raise NotFound("view_not_found")
        state, errors = surface.state_values(view, values)
        result: dict[str, Any] = {"ok": True, "view_id": view["id"]}
        if errors:
            # Slack's client checks required inputs itself; the app never hears of it.
            return {**result, "response_action": "errors", "errors": errors}
        trigger_id = self.sandbox.issue_trigger(u["id"])
        payload = payloads.view_submission(self._app, u, view, state, trigger_id=trigger_id)
        answer = self._post("interactive", payload)
        if not answer.ok:
            raise DriverError("dispatch_failed", app_status=answer.status)
        body = answer.json() or {}
        action = body.get("response_action")
        if action == "errors":
            return {**result, "response_action": "errors", "errors": body.get("errors") or {}}
        if action == "update" and isinstance(body.get("view"), dict):
            surface.set_view(self.sandbox, view["id"], body["view"], user_id=u["id"])
            return {**result, "response_action": "update"}
        if action == "push" and isinstance(body.get("view"), dict):
            trigger = self.sandbox.issue_trigger(u["id"])
            args = {"trigger_id": trigger, "view": body["view"]}
            pushed = self.sandbox.call("views.push", args, token=self._bot_token)
            return {**result, "response_action": "push", "pushed": pushed.get("view", {}).get("id")}
        closed = [v["id"] for v in views] if action == "clear" else [view["id"]]
        surface.close_views(self.sandbox, closed, user_id=u["id"])
        return {**result, "response_action": action or "close"}

    def close_view(self, user: str, view_id: str | None = None) -> dict[str, Any]:
        """The user's Cancel: close the newest open modal (or view_id)."""
        u = self._user(user)
        views = surface.open_views(self.sandbox, u["id"])
        view = next((v for v in reversed(views) if view_id in (None, v["id"])), None)
        if view is None:
            raise NotFound("view_not_found")
        surface.close_views(self.sandbox, [view["id"]], user_id=u["id"])
        return {"ok": True, "view_id": view["id"]}

    def open_home(self, user: str) -> dict[str, Any]:
        """The user opens the app's Home tab: app_home_opened goes to the app."""
        u = self._user(user)
        opened = self.sandbox.call("conversations.open", {"users": u["id"]}, token=self._bot_token)
        channel = opened.get("channel", {}).get("id", "")
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": u["id"],
            "channel": channel,
            "tab": "home",
            "event_ts": f"{self.sandbox.clock.now().timestamp():.6f}",
        }
        home = surface.home_view(self.sandbox, u["id"])
        if home is not None:
            event["view"] = home
        self._forward(event)
        return {"ok": True, "channel": channel, "view": home}

    def click_home(self, user: str, action_id: str, *, value: str | None = None) -> dict[str, Any]:
        """Click a button on the App Home view published for the user."""
        u = self._user(user)
        home = surface.home_view(self.sandbox, u["id"])
        found = [
            (block, button)
            for block in (home or {}).get("blocks", [])
            for button in surface.buttons(block)
            if button.get("action_id") == action_id and value in (None, button.get("value"))
        ]
        if home is None or not found:
            raise NotFound("action_not_found")
        block, button = found[0]
        trigger_id = self.sandbox.issue_trigger(u["id"])
        action = payloads.button_action(action_id, block, button, self.sandbox.clock.now())
        container = {"type": "view", "view_id": home["id"]}
        payload = payloads.block_actions(
            self._app, u, container, action, trigger_id=trigger_id, view=home
        )
        answer = self._post("interactive", payload)
        if not answer.ok:
            raise DriverError("dispatch_failed", app_status=answer.status)
        return {"ok": True, "view_id": home["id"], "trigger_id": trigger_id}

    # -- response_url ------------------------------------------------------------------------

    def respond(self, response_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Handle a POST to a response_url the way Slack's hooks do."""
        return self.responses.respond(response_id, body)

    def _response_url(
        self, sandbox_url: str | None, channel_id: str, user_id: str, message_ts: str | None
    ) -> str:
        base = self._sandbox_url(sandbox_url)
        return self.responses.create(base, channel_id, user_id, message_ts)

    def _sandbox_url(self, given: str | None) -> str:
        url = given or self.sandbox_url
        if not url and self.events_url:
            parts = urlsplit(self.events_url)
            url = f"{parts.scheme}://{parts.netloc}/sandbox/"
        url = url or "http://127.0.0.1:3000/sandbox/"
        return url if url.endswith("/") else url + "/"

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in FORWARDED_EVENTS:
            self._forward(event)

    def _forward(self, event: dict[str, Any]) -> None:
        if not self.events_url:
            return
        body, event_id = payloads.event_callback(self._app, event, self.sandbox.clock.now())
        self.events.put(body, event_id, event["type"])

    def _send_event(self, body: bytes, headers: dict[str, str]) -> AppAnswer:
        if self.sockets.connected:
            retry = int(headers.get("X-Slack-Retry-Num", "0"))
            reason = headers.get("X-Slack-Retry-Reason", "")
            return self.sockets.deliver("events_api", json.loads(body), retry=retry, reason=reason)
        url = self.events_url
        if not url:
            return AppAnswer(0, failure="connection_failed")
        return post_to_app(
            self._http, url, self._secret, body, "application/json", extra_headers=headers
        )

    # -- helpers -----------------------------------------------------------------------------

    def _post(self, kind: str, payload: dict[str, Any]) -> AppAnswer:
        """Deliver a command or an interaction: over Socket Mode if connected, else HTTP."""
        if self.sockets.connected:
            return self.sockets.deliver(kind, payload)
        if not self.events_url:
            raise DriverError("no_events_url")
        fields = payload if kind == "slash_commands" else {"payload": json.dumps(payload)}
        body = urlencode(fields).encode()
        return post_to_app(self._http, self.events_url, self._secret, body, FORM)

    def user_id(self, user: str) -> str:
        """Return a user's id given an id or name."""
        return self._user(user)["id"]

    def _user(self, user: str) -> Any:
        with self.sandbox.as_app() as call:
            return surface.find_user(call, user)

    def _who_where(self, user: str, channel: str) -> tuple[Any, Any]:
        with self.sandbox.as_app() as call:
            return surface.find_user(call, user), surface.find_channel(call, channel)

    def _may_see(self, u: Any, c: Any) -> None:
        """Refuse as Slack's client would: a private channel or DM is there only for members."""
        if (c["is_private"] or c["is_im"]) and u["id"] not in self._members(c):
            raise NotFound("channel_not_found")

    def _may_type_in(self, u: Any, c: Any) -> None:
        """Refuse a command where the user has no message box to type it in.

        Slash commands are typed into the message composer; a public channel the user only
        previews shows a "Join channel" bar instead, an archived one no composer at all.
        """
        self._may_see(u, c)
        if u["id"] not in self._members(c):
            name = payloads.channel_name(c)
            message = f"You are viewing #{name}. Join the channel to run commands in it."
            raise DriverError("not_in_channel", message=message)
        if c["is_archived"]:
            raise DriverError("is_archived", message=f"#{c['name']} is archived.")

    def _members(self, c: Any) -> list[str]:
        with self.sandbox.as_app() as call:
            return call.member_ids(c["id"])

    def _typed(self, user_id: str, text: str) -> str:
        with self.sandbox.as_app() as call:
            return typed_command_text(call, text, user_id=user_id, should_escape=self.should_escape)


def driver_for(sandbox: Sandbox) -> Driver:
    """Return the sandbox's driver, creating it once."""
    return sandbox.driver or Driver(sandbox)

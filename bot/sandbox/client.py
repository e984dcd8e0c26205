"""A small client for tests and scripts: the sandbox's controls plus slack-sdk clients on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from slack_sdk.web.async_client import AsyncWebClient


class SandboxError(RuntimeError):
    """A sandbox-only control call failed."""


@dataclass
class SandboxUser:
    """A seeded (or added) human acting through slack-sdk with their own user token."""

    client: SandboxClient
    id: str
    name: str
    token: str

    @property
    def web(self) -> WebClient:
        return WebClient(base_url=self.client.api_url, token=self.token)

    def post(self, channel: str, text: str, **kwargs: Any) -> SlackResponse:
        """Post as this user (channel by id, `#name` or name)."""
        return self.web.chat_postMessage(
            channel=self.client.channel_id(channel), text=text, **kwargs
        )

    def type_message(self, channel: str, text: str) -> dict[str, Any]:
        """Type a message in the page's composer: it goes out as Slack's client sends what
        a person types (escaped; `@name`, `#channel` and links as Slack writes them)."""
        body = {"user": self.id, "channel": self.client.channel_id(channel), "text": text}
        return self.client._control("POST", "post", json=body, base=self.client.ui_url)

    def join(self, channel: str) -> SlackResponse:
        return self.web.conversations_join(channel=self.client.channel_id(channel))

    def react(self, channel: str, ts: str, name: str) -> SlackResponse:
        channel_id = self.client.channel_id(channel)
        return self.web.reactions_add(channel=channel_id, timestamp=ts, name=name)

    def pin(self, channel: str, ts: str) -> SlackResponse:
        return self.web.pins_add(channel=self.client.channel_id(channel), timestamp=ts)

    # -- what Slack sends the app when this user acts (the sandbox's driver) -------------------

    def command(self, text: str, channel: str) -> dict[str, Any]:
        """Run a slash command (`"/incident ack"`) in a channel (id or name); the driver's answer.

        The answer has `response` (the app's ack body), `trigger_id` and `response_url`.
        """
        body = {"user": self.id, "channel": channel, "text": text}
        return self.client._control("POST", "sandbox.command", json=body)

    def click(
        self,
        channel: str,
        action_id: str,
        *,
        message_ts: str | None = None,
        value: str | None = None,
    ) -> dict[str, Any]:
        """Click a button: on the message at message_ts, else the newest message that has it."""
        body: dict[str, Any] = {"user": self.id, "channel": channel, "action_id": action_id}
        if message_ts is not None:
            body["message_ts"] = message_ts
        if value is not None:
            body["value"] = value
        return self.client._control("POST", "sandbox.click", json=body)

    def submit_view(
        self, values: dict[str, str | list[str]], view_id: str | None = None
    ) -> dict[str, Any]:
        """Submit this user's newest open modal (or view_id) with block_id -> value (the
        values ticked, for checkboxes).

        `response_action` in the answer is "errors" (with `errors`) when the modal stays open.
        """
        body: dict[str, Any] = {"user": self.id, "values": values}
        if view_id is not None:
            body["view_id"] = view_id
        return self.client._control("POST", "sandbox.submitView", json=body)

    def close_view(self, view_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"user": self.id}
        if view_id is not None:
            body["view_id"] = view_id
        return self.client._control("POST", "sandbox.closeView", json=body)

    def open_home(self) -> dict[str, Any]:
        """Open the app's Home tab: the app gets app_home_opened; answers the current view."""
        return self.client._control("POST", "sandbox.openHome", json={"user": self.id})

    def click_home(self, action_id: str, *, value: str | None = None) -> dict[str, Any]:
        """Click a button on this user's App Home (the one with `value`, else the first)."""
        body: dict[str, Any] = {"user": self.id, "action_id": action_id}
        if value is not None:
            body["value"] = value
        return self.client._control("POST", "sandbox.clickHome", json=body)

    def open_views(self) -> list[dict[str, Any]]:
        """Return this user's open modals, the newest last."""
        return self.client.open_views(self.id)


class SandboxClient:
    """Talk to a running sandbox at base_url, the server root (`http://127.0.0.1:PORT`)."""

    def __init__(self, base_url: str, *, prefix: str = "/sandbox", timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}{prefix}/api/"
        self.ui_url = f"{self.base_url}{prefix}/ui/"
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _control(
        self, verb: str, method: str, *, base: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response = self._http.request(verb, (base or self.api_url) + method, **kwargs)
        body = response.json()
        if not body.get("ok"):
            detail = body.get("detail") or body.get("message") or ""
            raise SandboxError(f"{method}: {body.get('error')} {detail}".strip())
        return body

    def info(self) -> dict[str, Any]:
        """Return sandbox.info: tokens, signing secret, team, users, groups, channels."""
        return self._control("GET", "sandbox.info")

    @property
    def bot_token(self) -> str:
        return self.info()["bot_token"]

    @property
    def signing_secret(self) -> str:
        return self.info()["signing_secret"]

    def bot(self, **kwargs: Any) -> WebClient:
        """Return slack-sdk's WebClient on the sandbox with the bot token."""
        return WebClient(base_url=self.api_url, token=self.bot_token, **kwargs)

    def async_bot(self, **kwargs: Any) -> AsyncWebClient:
        return AsyncWebClient(base_url=self.api_url, token=self.bot_token, **kwargs)

    def as_user(self, name: str) -> SandboxUser:
        """Return a user handle by name or id."""
        for user in self.info()["users"]:
            if name in (user["name"], user["id"]):
                return SandboxUser(self, user["id"], user["name"], user["token"])
        raise KeyError(name)

    def add_user(self, name: str, **profile: Any) -> SandboxUser:
        user = self._control("POST", "sandbox.addUser", json={"name": name, **profile})["user"]
        return SandboxUser(self, user["id"], user["name"], user["token"])

    def channel(self, name: str) -> dict[str, Any]:
        """Return a channel (name, `#name` or id) as conversations.info shows it, plus members."""
        return self._control("GET", "sandbox.channel", params={"channel": name})["channel"]

    def channel_id(self, channel: str) -> str:
        return self.channel(channel)["id"]

    def messages(
        self, channel: str, *, replies: bool = False, ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Return a channel's messages oldest first (thread replies and ephemerals on request)."""
        params = {"channel": channel, "replies": replies, "ephemeral": ephemeral}
        return self._control("GET", "sandbox.messages", params=params)["messages"]

    def faults(self, mode: str, count: int = 1, **options: Any) -> list[dict[str, Any]]:
        """Arm a fault: ratelimit (retry_after), error (status), slow/late (delay); methods."""
        spec = {"mode": mode, "count": count, **options}
        return self._control("POST", "sandbox.faults", json=spec)["faults"]

    def clear_faults(self) -> None:
        self._control("POST", "sandbox.faults", json={"mode": "clear"})

    def rate_limits(self, enabled: bool) -> None:
        """Turn Slack's rate limits off (for a test that needs bursts) or on again."""
        self._control("POST", "sandbox.rateLimits", json={"enabled": enabled})

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return the Web API calls answered so far, oldest first."""
        params = {"method": method} if method else {}
        return self._control("GET", "sandbox.calls", params=params)["calls"]

    def reset_calls(self) -> None:
        self._control("POST", "sandbox.calls.reset")

    def deliveries(self) -> list[dict[str, Any]]:
        """Return every Events API delivery to the app, with each attempt's status."""
        return self._control("GET", "sandbox.deliveries")["deliveries"]

    def open_views(self, user: str) -> list[dict[str, Any]]:
        """Return a user's open modals (by id or name), the newest last."""
        return self._control("GET", "sandbox.views", params={"user": user})["views"]

    def home(self, user: str) -> dict[str, Any] | None:
        """Return the App Home view published for a user, if any."""
        return self._control("GET", "sandbox.views", params={"user": user})["home"]

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

    def join(self, channel: str) -> SlackResponse:
        return self.web.conversations_join(channel=self.client.channel_id(channel))

    def react(self, channel: str, ts: str, name: str) -> SlackResponse:
        channel_id = self.client.channel_id(channel)
        return self.web.reactions_add(channel=channel_id, timestamp=ts, name=name)

    def pin(self, channel: str, ts: str) -> SlackResponse:
        return self.web.pins_add(channel=self.client.channel_id(channel), timestamp=ts)


class SandboxClient:
    """Talk to a running sandbox at base_url, the server root (`http://127.0.0.1:PORT`)."""

    def __init__(self, base_url: str, *, prefix: str = "/sandbox", timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}{prefix}/api/"
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _control(self, verb: str, method: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(verb, self.api_url + method, **kwargs)
        body = response.json()
        if not body.get("ok"):
            raise SandboxError(f"{method}: {body.get('error')} {body.get('detail', '')}".strip())
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
        """Arm a fault: ratelimit (retry_after), error (status), slow (delay); methods=[...]."""
        spec = {"mode": mode, "count": count, **options}
        return self._control("POST", "sandbox.faults", json=spec)["faults"]

    def clear_faults(self) -> None:
        self._control("POST", "sandbox.faults", json={"mode": "clear"})

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return the Web API calls answered so far, oldest first."""
        params = {"method": method} if method else {}
        return self._control("GET", "sandbox.calls", params=params)["calls"]

    def reset_calls(self) -> None:
        self._control("POST", "sandbox.calls.reset")

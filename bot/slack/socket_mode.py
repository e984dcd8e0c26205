"""Socket Mode: receive commands, clicks and events over Slack's WebSocket instead of HTTP.

The HTTP routes (/alerts, /api, /healthz, /metrics) keep serving either way; only what
Slack would POST to /slack/events arrives through the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


class SocketMode:
    """Connect a Bolt app through Slack's Socket Mode for as long as the service runs."""

    def __init__(self, bolt: AsyncApp, app_token: str, *, wait_for: str | None = None) -> None:
        # wait_for: a URL that must answer before connecting. In sandbox mode Slack is this
        # very server, which starts listening only after the app's startup.
        self.bolt = bolt
        self._app_token = app_token
        self.handler: AsyncSocketModeHandler | None = None
        self._wait_for = wait_for
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Connect in the background (reconnecting is the Socket Mode client's own job)."""
        # The client opens an aiohttp session, which wants the running loop: built here.
        self.handler = AsyncSocketModeHandler(
            self.bolt, self._app_token, web_client=self.bolt.client
        )
        self._task = asyncio.create_task(self._connect(self.handler), name="socket-mode")

    async def _connect(self, handler: AsyncSocketModeHandler) -> None:
        if self._wait_for:
            await _wait_for(self._wait_for)
        await handler.connect_async()
        self.connected.set()
        log.info("connected to Slack in Socket Mode")

    async def stop(self) -> None:
        """Close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.handler is not None:
            await self.handler.close_async()


async def _wait_for(url: str, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient() as http:
        while loop.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url, timeout=1.0)).status_code < 500:
                    return
            await asyncio.sleep(0.05)
    log.warning("%s did not answer; connecting to Socket Mode anyway", url)

"""Build the Slack side: the Web API client, the Bolt app and its HTTP handler."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.slack.listeners import register


@dataclass(frozen=True)
class SlackCredentials:
    """Where the Web API is and how to sign in: real Slack or the local sandbox."""

    bot_token: str
    signing_secret: str
    api_url: str


@dataclass
class SlackSide:
    """The pieces the app needs from Slack."""

    client: AsyncWebClient
    bolt: AsyncApp
    handler: AsyncSlackRequestHandler


def make_client(credentials: SlackCredentials) -> AsyncWebClient:
    """A Web API client that waits out rate limits and retries dropped connections and 5xx."""
    return AsyncWebClient(
        token=credentials.bot_token,
        base_url=credentials.api_url,
        timeout=15,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_slack(
    runtime: Runtime, credentials: SlackCredentials, *, process_before_response: bool = False
) -> SlackSide:
    """The Bolt app (signature checks on), its listeners and its request handler."""
    client = make_client(credentials)
    bolt = AsyncApp(
        signing_secret=credentials.signing_secret,
        client=client,
        # Our listeners ack first and work after; Bolt answers Slack at the ack (replays
        # wait for the work instead, so each step's effects are in before the next).
        process_before_response=process_before_response,
    )
    register(bolt, runtime)
    return SlackSide(client=client, bolt=bolt, handler=AsyncSlackRequestHandler(bolt))

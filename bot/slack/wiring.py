"""Build the Slack side: the Web API client, the Bolt app and its HTTP handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.composition.runtime import Runtime
from bot.incidents.commands import USAGE
from bot.observability.metrics import Metrics
from bot.slack.after_ack import AfterAck
from bot.slack.app_rate_limited import acknowledge_app_rate_limited
from bot.slack.ids import ActionId, CallbackId
from bot.slack.intake import Intake
from bot.slack.listeners import register
from bot.slack.pacing import ChannelPace, PacedWebClient
from bot.slack.postmortem_files import register_postmortem_files

COMMAND_LINGER = 0.2  # seconds
GIVE_WAY_FOR = 2.0  # seconds a command's carry-out may wait while others are being stored
WEB_API_TIMEOUT = 15  # seconds

# What each button and modal does, as the command verb it stands for (for metrics).
INTERACTION_VERBS: dict[str, str] = {
    ActionId.ACKNOWLEDGE: "ack",
    ActionId.RESOLVE: "resolve",
    ActionId.REOPEN: "reopen",
    ActionId.ADD_NOTE: "note",
    CallbackId.NOTE: "note",
    CallbackId.DECLARE: "declare",
}


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
    after_ack: AfterAck
    intake: Intake


class MeteredWebClient(PacedWebClient):
    """A paced Web API client that counts every call and failure by method."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        self.metrics.slack_calls.labels(api_method).inc()
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            self.metrics.slack_errors.labels(api_method, str(code or "unknown")).inc()
            raise
        except Exception as error:
            self.metrics.slack_errors.labels(api_method, type(error).__name__).inc()
            raise


def make_client(
    credentials: SlackCredentials,
    metrics: Metrics | None = None,
    paced: Callable[[], bool] | None = None,
) -> AsyncWebClient:
    """A Web API client that paces its posts per channel (while `paced` says so: always, if
    not given), waits out rate limits and retries dropped connections and 5xx."""
    options: dict[str, Any] = {
        "token": credentials.bot_token,
        "base_url": credentials.api_url,
        "timeout": WEB_API_TIMEOUT,
        "retry_handlers": [
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
        "pace": ChannelPace(enabled=paced) if paced is not None else ChannelPace(),
    }
    if metrics is None:
        return PacedWebClient(**options)
    return MeteredWebClient(metrics=metrics, **options)


def share_connections(client: AsyncWebClient) -> aiohttp.ClientSession:
    """Give the client (and Bolt's per-request copies of it) one HTTP session to keep its
    connections in; without one, slack_sdk opens a new connection, TLS included, per call.

    Call on the running event loop; close the session on shutdown.
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT))
    client.session = session
    return session


def command_verb(body: dict[str, Any]) -> str | None:
    """The verb a Slack request stands for: `/incident ack`, a button, a modal; else None."""
    if body.get("command") == "/incident":
        word = (body.get("text") or "").strip().split(" ", 1)[0].lower() or "help"
        return word if word in USAGE else "invalid"
    if body.get("type") == "block_actions":
        action = str((body.get("actions") or [{}])[0].get("action_id"))
        return INTERACTION_VERBS.get(action)
    if body.get("type") == "view_submission":
        return INTERACTION_VERBS.get(str((body.get("view") or {}).get("callback_id")))
    return None


def build_slack(
    runtime: Runtime,
    credentials: SlackCredentials,
    *,
    process_before_response: bool = False,
    metrics: Metrics | None = None,
    paced: Callable[[], bool] | None = None,
) -> SlackSide:
    """The Bolt app (signature checks on), its listeners and its request handler; `paced`
    as `make_client` takes it."""
    client = make_client(credentials, metrics, paced)
    # Our listeners ack, hand their work to `later` and return: Bolt answers as each listener
    # returns, at once. Replays run the work inline, so each step's effects are in before
    # the next step is sent.
    later = AfterAck(inline=process_before_response)
    bolt = AsyncApp(
        # A name given: Bolt otherwise takes its caller's file name from inspect.stack(),
        # which reads the source of every frame and costs a quarter of a second at start.
        # Not "warroom": Bolt names a logger after its app and pins that logger's level to
        # the root's at that moment, and "warroom" is the parent of our access log.
        name="warroom.bolt",
        signing_secret=credentials.signing_secret,
        client=client,
        process_before_response=True,
    )
    if metrics is not None:

        async def count_commands(
            body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse]]
        ) -> BoltResponse:
            verb = command_verb(body)
            if verb is not None:
                metrics.commands.labels(verb).inc()
            return await next()

        bolt.use(count_commands)
    bolt.use(acknowledge_app_rate_limited)
    # Stored before the ack, commands can wait a moment to be carried out together.
    if process_before_response:  # Lambda-style: the work must be done before the answer
        intake = Intake(runtime, client)
    else:
        intake = Intake(runtime, client, linger=COMMAND_LINGER, give_way_for=GIVE_WAY_FOR)
    register(bolt, runtime, intake, later=later)
    register_postmortem_files(bolt, runtime, later=later)
    return SlackSide(
        client=client,
        bolt=bolt,
        handler=AsyncSlackRequestHandler(bolt),
        after_ack=later,
        intake=intake,
    )

"""Slack's Web API rate limits in the sandbox, seen through slack-sdk.

Rules from docs.slack.dev/apis/web-api/rate-limits; each method's tier from its
docs.slack.dev/reference/methods/<method> page ("Rate limits").
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient
from bot.sandbox.methods import METHODS
from bot.sandbox.ratelimits import POST_METHOD, TIERS, RateLimits
from tests.bot.sandbox.conftest import RunningSandbox
from tests.support.server import run_app_in_thread


class StoppedClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(running: RunningSandbox) -> StoppedClock:
    """The sandbox's rate limits on a clock the test moves."""
    stopped = StoppedClock()
    running.sandbox.rate_limits = RateLimits(timer=stopped)
    return stopped


def refusal(call, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return caught.value


def test_tier_2_method_refuses_past_20_a_minute_with_429_and_retry_after(
    bot: WebClient, sandbox: SandboxClient, clock: StoppedClock
) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: Tier 2 is 20+ per minute; past it, HTTP 429,
    `ratelimited`, and Retry-After in seconds. conversations.create is Tier 2
    (docs.slack.dev/reference/methods/conversations.create)."""
    for n in range(20):
        bot.conversations_create(name=f"inc-burst-{n}")
    error = refusal(bot.conversations_create, name="inc-burst-20")
    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["retry-after"] in ("3", ["3"])  # 20 a minute: one per 3 s
    assert "inc-burst-20" not in [c["name"] for c in sandbox.info()["channels"]]
    assert sandbox.calls("conversations.create")[-1]["status"] == 429

    clock.now += 3
    assert bot.conversations_create(name="inc-burst-20")["channel"]["name"] == "inc-burst-20"


def test_each_method_has_its_own_budget(bot: WebClient, clock: StoppedClock) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: limits apply per API method per workspace per
    app; conversations.setTopic is Tier 2 too, with a budget of its own."""
    for n in range(20):
        bot.conversations_create(name=f"inc-own-{n}")
    assert refusal(bot.conversations_create, name="inc-own-20").response.status_code == 429
    topic = bot.conversations_setTopic(channel="C0INCIDENTS", topic="still allowed")
    assert topic["channel"]["topic"]["value"] == "still allowed"


def test_a_person_s_token_does_not_spend_the_app_s_budget(
    bot: WebClient, sandbox: SandboxClient, clock: StoppedClock
) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: limits are per app; a person acting in their
    own client is not the app."""
    for n in range(20):
        bot.conversations_create(name=f"inc-app-{n}")
    assert refusal(bot.conversations_create, name="inc-app-20").response.status_code == 429
    alice = sandbox.as_user("alice").web
    assert alice.conversations_create(name="alice-own")["channel"]["name"] == "alice-own"


def test_post_message_allows_about_one_a_second_per_channel_after_a_short_burst(
    bot: WebClient, clock: StoppedClock
) -> None:
    """docs.slack.dev/apis/web-api/rate-limits, "Posting messages": 1 per second per
    channel, short bursts >1 allowed; other channels keep their own allowance."""
    for n in range(5):
        bot.chat_postMessage(channel="C0INCIDENTS", text=f"burst {n}")
    error = refusal(bot.chat_postMessage, channel="C0INCIDENTS", text="one too many")
    assert (error.response.status_code, error.response["error"]) == (429, "ratelimited")
    assert error.response.headers["retry-after"] in ("1", ["1"])
    assert bot.chat_postMessage(channel="C0GENERAL", text="elsewhere")["ok"] is True

    clock.now += 1
    assert bot.chat_postMessage(channel="C0INCIDENTS", text="a second later")["ok"] is True


def test_slack_sdk_retry_handler_waits_out_retry_after(sandbox: SandboxClient) -> None:
    """docs.slack.dev/apis/web-api/rate-limits: a client that waits Retry-After seconds gets
    through; nothing is posted twice and nothing is lost."""
    bot = sandbox.bot()
    bot.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    for n in range(7):
        bot.chat_postMessage(channel="C0INCIDENTS", text=f"paced {n}")
    texts = [m["text"] for m in sandbox.messages("incidents") if m["text"].startswith("paced")]
    assert texts == [f"paced {n}" for n in range(7)]
    assert [c["status"] for c in sandbox.calls("chat.postMessage")].count(429) >= 1


def test_switched_off_the_sandbox_takes_bursts(bot: WebClient, sandbox: SandboxClient) -> None:
    sandbox.rate_limits(False)
    for n in range(25):
        bot.conversations_create(name=f"inc-free-{n}")
    assert all(c["status"] == 200 for c in sandbox.calls("conversations.create"))
    sandbox.rate_limits(True)
    for n in range(20):
        bot.conversations_create(name=f"inc-again-{n}")
    assert refusal(bot.conversations_create, name="inc-again-20").response.status_code == 429


def test_sandbox_built_without_rate_limits_takes_bursts(engine: Engine) -> None:
    app = FastAPI()
    app.include_router(build_sandbox_router(Sandbox(engine, rate_limits=False)), prefix="/sandbox")
    with run_app_in_thread(app) as url:
        client = SandboxClient(url)
        bot = client.bot()
        for n in range(8):
            bot.chat_postMessage(channel="C0INCIDENTS", text=f"free {n}")
        assert [c["status"] for c in client.calls("chat.postMessage")] == [200] * 8
        client.close()


def test_every_method_has_a_documented_tier() -> None:
    assert set(METHODS) - {POST_METHOD} == set(TIERS)
    assert set(TIERS.values()) <= {1, 2, 3, 4}


def test_users_conversations_lists_the_callers_channels_private_ones_included(
    bot: WebClient, sandbox: SandboxClient
) -> None:
    """docs.slack.dev/reference/methods/users.conversations: the conversations the token's
    user is in, filtered by `types`; a private channel only for its members."""
    mine = bot.conversations_create(name="bot-secret", is_private=True)["channel"]["id"]
    alice = sandbox.as_user("alice").web
    theirs = alice.conversations_create(name="alice-secret", is_private=True)["channel"]["id"]
    listed = bot.users_conversations(types="public_channel,private_channel", limit=200)
    ids = [c["id"] for c in listed["channels"]]
    assert mine in ids and theirs not in ids
    public_only = [c["id"] for c in bot.users_conversations(limit=200)["channels"]]
    assert mine not in public_only
    assert bot.users_conversations(types="private_channel")["channels"][-1]["name"] == "bot-secret"

"""Fault injection seen through slack-sdk, and the call log."""

from __future__ import annotations

import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.sandbox.client import SandboxClient, SandboxError


def test_ratelimit_without_retry_handler_raises_429(sandbox: SandboxClient, bot: WebClient) -> None:
    sandbox.faults("ratelimit", count=1, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        bot.chat_postMessage(channel="C0GENERAL", text="hi")
    response = caught.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["retry-after"] in ("7", ["7"])
    assert bot.chat_postMessage(channel="C0GENERAL", text="hi")["ok"] is True


def test_ratelimit_with_retry_handler_eventually_succeeds(sandbox: SandboxClient) -> None:
    bot = sandbox.bot()
    bot.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    sandbox.faults("ratelimit", count=2, retry_after=0, methods=["chat.postMessage"])
    sandbox.reset_calls()
    posted = bot.chat_postMessage(channel="C0GENERAL", text="after the storm")
    assert posted["ok"] is True
    statuses = [c["status"] for c in sandbox.calls("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert sandbox.messages("general")[-1]["text"] == "after the storm"


async def test_async_client_honours_retry_after(sandbox: SandboxClient) -> None:
    client = sandbox.async_bot()
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    sandbox.faults("ratelimit", count=1, retry_after=1, methods=["conversations.create"])
    started = time.monotonic()
    created = await client.conversations_create(name="inc-async-retry")
    assert created["channel"]["name"] == "inc-async-retry"
    assert time.monotonic() - started >= 1


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(sandbox: SandboxClient, bot: WebClient, status: int) -> None:
    sandbox.faults("error", count=1, status=status, methods=["conversations.create"])
    assert bot.auth_test()["ok"] is True  # other methods are untouched
    with pytest.raises(SlackApiError) as caught:
        bot.conversations_create(name="inc-5xx")
    assert caught.value.response.status_code == status
    # The failed call changed nothing: the retry creates the channel once.
    assert bot.conversations_create(name="inc-5xx")["channel"]["name"] == "inc-5xx"


def test_slow_answers_late_but_answers(sandbox: SandboxClient, bot: WebClient) -> None:
    # The delay is long beside a plain call on a loaded CI machine, so the second call
    # being quicker than it says the fault was spent, not that the machine was idle.
    sandbox.faults("slow", count=1, delay=2.0)
    started = time.monotonic()
    assert bot.auth_test()["ok"] is True
    assert time.monotonic() - started >= 2.0
    started = time.monotonic()
    bot.auth_test()
    assert time.monotonic() - started < 2.0


def test_clear_and_bad_specs(sandbox: SandboxClient, bot: WebClient) -> None:
    assert len(sandbox.faults("ratelimit", count=3)) == 1
    sandbox.clear_faults()
    assert bot.auth_test()["ok"] is True
    with pytest.raises(SandboxError):
        sandbox.faults("explode")
    response = httpx.post(sandbox.api_url + "sandbox.faults", json={"mode": "error", "status": 418})
    assert response.status_code == 400


def test_call_log_counts_calls_per_channel(sandbox: SandboxClient, bot: WebClient) -> None:
    sandbox.reset_calls()
    channel_id = bot.conversations_create(name="inc-count")["channel"]["id"]
    bot.conversations_invite(channel=channel_id, users="U0ALICE,U0BOB")
    bot.chat_postMessage(channel=channel_id, text="card")
    with pytest.raises(SlackApiError):
        bot.chat_postMessage(channel="C0NOPE", text="lost")
    calls = sandbox.calls()
    assert [(c["method"], c["ok"], c["error"]) for c in calls] == [
        ("conversations.create", True, None),
        ("conversations.invite", True, None),
        ("chat.postMessage", True, None),
        ("chat.postMessage", False, "channel_not_found"),
    ]
    assert sum(1 for c in calls if c["channel"] == channel_id) == 3
    sandbox.reset_calls()
    assert sandbox.calls() == []


def test_late_carries_the_call_out_and_answers_after_the_client_gave_up(
    sandbox: SandboxClient,
) -> None:
    # The ambiguous failure: Slack posted, but the answer came after the client's timeout.
    impatient = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token, timeout=0.5)
    sandbox.faults("late", count=1, delay=2, methods=["chat.postMessage"])
    with pytest.raises(Exception) as caught:
        impatient.chat_postMessage(channel="C0GENERAL", text="posted, answer lost")
    assert "timed out" in str(caught.value).lower()
    assert [m["text"] for m in sandbox.messages("general")][-1] == "posted, answer lost"

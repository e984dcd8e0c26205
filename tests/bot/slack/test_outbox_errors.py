"""Slack's refusals as the outbox's one error pair, and the Slack routes' coalescing hooks."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.incidents.effects import Page, PostMessage, UpdateCard
from bot.outbox.errors import GiveUp, RetryLater
from bot.outbox.routes import Superseded, Together
from bot.slack.coalescing import MAX_GROUP, MAX_GROUP_TEXT, group_echoes, supersede_redraw
from bot.slack.errors import Refusal, classify, outbox_error


def refusal(code: str, status: int = 200, **headers: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers=headers,
        status_code=status,
    )
    return SlackApiError(code, response)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ratelimited", 429, Refusal.RETRY),
        ("internal_error", 500, Refusal.RETRY),
        ("service_unavailable", 503, Refusal.RETRY),
        ("fatal_error", 200, Refusal.RETRY),
        # conversations.invite's documented per-person errors: skip the person, go on.
        ("user_not_found", 200, Refusal.SKIP),
        ("cant_invite", 200, Refusal.SKIP),
        ("cant_invite_self", 200, Refusal.SKIP),
        ("already_in_channel", 200, Refusal.SKIP),
        ("user_is_restricted", 200, Refusal.SKIP),
        ("user_is_ultra_restricted", 200, Refusal.SKIP),
        ("users_not_found", 200, Refusal.SKIP),
        # Too long: cut to Slack's limits and sent again.
        ("msg_too_long", 200, Refusal.FIX),
        ("invalid_blocks", 200, Refusal.FIX),
        ("msg_blocks_too_long", 200, Refusal.FIX),
        ("token_revoked", 200, Refusal.GIVE_UP),
        ("is_archived", 200, Refusal.GIVE_UP),
        ("channel_not_found", 200, Refusal.GIVE_UP),
        ("something_slack_added_later", 200, None),
    ],
)
def test_each_slack_code_is_classified_once(
    code: str, status: int, expected: Refusal | None
) -> None:
    assert classify(refusal(code, status)) is expected


def test_a_code_nobody_classified_is_left_to_the_dispatchers_bounded_retries() -> None:
    assert outbox_error(refusal("something_slack_added_later"), "card.post", 0) is None


def test_a_permanent_code_gives_up_naming_the_operation() -> None:
    error = outbox_error(refusal("channel_not_found"), "message.post", attempts=0)
    assert isinstance(error, GiveUp)
    assert error.reason == "Slack refused message.post: channel_not_found"


def test_a_rate_limit_waits_at_least_what_slack_asks() -> None:
    error = outbox_error(refusal("ratelimited", 429, **{"Retry-After": "30"}), "card.update", 0)
    assert isinstance(error, RetryLater)
    assert (error.reason, error.delay_seconds) == ("Slack 429 ratelimited", 30.0)
    # After many attempts the backoff (up to five minutes) is longer than Slack's ask.
    later = outbox_error(refusal("ratelimited", 429, **{"Retry-After": "1"}), "card.update", 12)
    assert isinstance(later, RetryLater) and (later.delay_seconds or 0) >= 240


def test_a_server_error_retries_with_the_usual_backoff() -> None:
    error = outbox_error(refusal("internal_error", 500), "channel.open", attempts=3)
    assert isinstance(error, RetryLater)
    assert (error.reason, error.delay_seconds) == ("Slack 500 internal_error", None)


def test_a_card_redraw_is_skipped_only_when_a_later_one_follows() -> None:
    later = [PostMessage(text="x", actor="U0A"), None, UpdateCard()]
    assert supersede_redraw(UpdateCard(), later) == Superseded({"superseded": True})
    assert supersede_redraw(UpdateCard(), later[:2]) is None


def test_consecutive_echoes_go_together_up_to_the_limits() -> None:
    echo = PostMessage(text="ack", actor="U0A")
    assert group_echoes(echo, [echo, echo, Page(action="trigger"), echo]) == Together(3)
    assert group_echoes(echo, [PostMessage(text="stage", trusted=True), echo]) is None
    assert group_echoes(PostMessage(text="alert"), [echo]) is None  # not a command's echo
    assert group_echoes(echo, [echo] * 50) == Together(MAX_GROUP)
    long = PostMessage(text="x" * (MAX_GROUP_TEXT - 3), actor="U0B")  # "ack" + this: the limit
    assert group_echoes(echo, [long, echo]) == Together(2)
    assert group_echoes(echo, [long, long]) == Together(2)
    assert group_echoes(long, [long]) is None


class HtmlPage:
    """What slack_sdk hands over as `response` when a proxy answered with an HTML page:
    its aiohttp response, with `status` and `headers` but no Slack fields."""

    status = 502
    headers: dict[str, str] = {}


def test_a_page_that_is_not_slacks_json_is_retried_as_a_server_error() -> None:
    error = SlackApiError("Received a response in a non-JSON format: <html>", HtmlPage())
    assert classify(error) is Refusal.RETRY
    translated = outbox_error(error, "card.post", attempts=0)
    assert isinstance(translated, RetryLater)
    assert translated.reason == "Slack 502 unknown_error"

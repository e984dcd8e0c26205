"""Slack's documented length limits met before sending: cut with a visible "…"."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.sandbox.methods.block_kit import block_errors
from bot.slack.limits import TEXT_MAX, fit_blocks, fit_text, send_fitted
from tests.bot.slack.test_outbox_errors import refusal


def test_text_is_cut_to_forty_thousand_with_an_ellipsis() -> None:
    cut = fit_text("x" * 100_000)
    assert len(cut) == 40_000 and cut.endswith("x…")
    assert fit_text("short") == "short"
    # An escape sequence is never cut in half: `&am…` would show as garbage.
    assert fit_text("a" * 9 + "&amp;", 12) == "a" * 9 + "…"


def test_every_block_text_is_cut_to_its_own_limit() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 500}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 5000}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2500}] * 12},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3500}]},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 90}}],
        },
        {"type": "divider"},
    ]
    fitted = fit_blocks(blocks)
    assert block_errors(blocks) != [] and block_errors(fitted) == []
    assert fitted[0]["text"]["text"] == "h" * 149 + "…"
    assert len(fitted[1]["text"]["text"]) == 3000
    assert [len(f["text"]) for f in fitted[2]["fields"]] == [2000] * 10
    assert fitted[3]["elements"][0]["text"] == "c" * 2999 + "…"
    assert fitted[4]["elements"][0]["text"]["text"] == "b" * 74 + "…"
    assert fitted[5] == {"type": "divider"}
    assert blocks[0]["text"]["text"] == "h" * 500  # the caller's blocks are left as they were
    # 50 blocks in a message, 100 in a modal or the App Home.
    assert len(fit_blocks([{"type": "divider"}] * 120)) == 50
    assert len(fit_blocks([{"type": "divider"}] * 120, most=100)) == 100


async def test_text_slack_still_finds_too_long_is_cut_tighter_and_sent_once_more() -> None:
    sent: list[dict[str, Any]] = []

    async def post(**arguments: Any) -> dict[str, Any]:
        sent.append(arguments)
        # A Slack that counts bytes, not characters: an emoji is four of them.
        if len(arguments["text"].encode()) > TEXT_MAX:
            raise refusal("msg_too_long")
        return {"ok": True, "ts": "1.000100"}

    answer = await send_fitted(post, channel="C0INC", text="😀" * 30_000)
    assert answer["ts"] == "1.000100"
    assert [len(s["text"]) for s in sent] == [30_000, TEXT_MAX // 4]
    assert sent[1]["text"].endswith("😀…") and sent[1]["channel"] == "C0INC"


async def test_a_refusal_no_cut_can_fix_is_raised_at_once() -> None:
    calls: list[dict[str, Any]] = []

    async def post(**arguments: Any) -> dict[str, Any]:
        calls.append(arguments)
        raise refusal("is_archived")

    with pytest.raises(SlackApiError):
        await send_fitted(post, channel="C0INC", text="hello", blocks=[{"type": "divider"}])
    assert calls == [{"channel": "C0INC", "text": "hello", "blocks": [{"type": "divider"}]}]

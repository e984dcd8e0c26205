"""The shared client and how third-party answers are classified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from bot.integrations.http import MAX_RETRY_AFTER, judge, make_client, retry_after


async def test_client_has_timeouts_limits_and_a_user_agent() -> None:
    client = make_client()
    try:
        assert client.headers["User-Agent"] == "warroom/0.1"
        assert client.timeout.read == 10.0 and client.timeout.connect == 5.0
        assert client.follow_redirects is False
    finally:
        await client.aclose()
    assert client.is_closed


def test_retry_after_reads_seconds_dates_and_caps() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "12"})) == 12.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 <= (retry_after(httpx.Response(429, headers={"Retry-After": soon})) or 0) <= 120
    assert retry_after(httpx.Response(429, headers={"Retry-After": "86400"})) == MAX_RETRY_AFTER
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


def test_judge_sorts_answers() -> None:
    assert judge(httpx.Response(202)).outcome == "ok"
    assert judge(httpx.Response(502)).outcome == "retry"
    assert judge(httpx.Response(408)).outcome == "retry"
    limited = judge(httpx.Response(429, headers={"Retry-After": "3"}))
    assert (limited.outcome, limited.delay) == ("retry", 3.0)
    refused = judge(httpx.Response(422, json={"error": ["name can't be blank"]}))
    # The far side's words are kept apart: they go to the log, never the timeline.
    assert (refused.outcome, refused.detail) == ("refused", "HTTP 422")
    assert refused.said == "name can't be blank"

"""Reading a shared postmortem file from Slack: with the bot's token, and what the team is
told when Slack answers its sign-in page (no files:read scope) or the file cannot be one.
Slack's file host is a third party here: answered by respx."""

from __future__ import annotations

import httpx
import pytest
import respx
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.postmortem_files import MAX_BYTES, _download

URL = "https://files.slack.com/files-pri/T0SANDBOX-F0DRAFT/download/postmortem-incident-7.md"
INFO = {"name": "postmortem-incident-7.md", "size": 40, "url_private_download": URL}
CLIENT = AsyncWebClient(token="xoxb-warroom")


@respx.mock
async def test_the_file_is_read_with_the_bots_token() -> None:
    route = respx.get(URL).respond(
        200, text="# Postmortem\n", headers={"Content-Type": "text/plain"}
    )
    assert await _download(CLIENT, INFO) == ("# Postmortem\n", None)
    assert route.calls[0].request.headers["Authorization"] == "Bearer xoxb-warroom"


@respx.mock
async def test_slacks_sign_in_page_is_told_as_a_missing_scope_not_saved_as_text() -> None:
    # What Slack answers a token that may not read the file: its sign-in page, status 200.
    respx.get(URL).respond(200, html="<!DOCTYPE html><title>Sign in | Slack</title>")
    text, why = await _download(CLIENT, INFO)
    assert text == ""
    assert (
        why == "warroom may not read postmortem-incident-7.md (is the files:read scope granted?)."
    )


@respx.mock
async def test_a_file_that_is_not_utf8_is_refused() -> None:
    respx.get(URL).respond(200, content=b"\xff\xfe# P", headers={"Content-Type": "text/plain"})
    assert await _download(CLIENT, INFO) == (
        "",
        "postmortem-incident-7.md is not UTF-8 text: share the Markdown file itself.",
    )


@respx.mock(assert_all_called=False)
async def test_a_file_too_large_is_refused_before_it_is_downloaded(respx_mock) -> None:
    route = respx_mock.get(URL).respond(200, text="x")
    too_big = {**INFO, "size": MAX_BYTES + 1}
    text, why = await _download(CLIENT, too_big)
    assert text == "" and why is not None and f"{MAX_BYTES + 1} bytes" in why
    assert not route.called


async def test_a_download_slack_fails_raises_so_slack_sends_the_event_again() -> None:
    with respx.mock:
        respx.get(URL).respond(503)
        with pytest.raises(httpx.HTTPStatusError) as failed:
            await _download(CLIENT, INFO)
    assert failed.value.response.status_code == 503

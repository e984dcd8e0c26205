"""An edited postmortem shared back in the incident's thread is kept: `/incident postmortem`
then refreshes only the sections the team left as generated (sandbox over real HTTP)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.slack.postmortem_files import MAX_BYTES
from tests.e2e.test_declare_flow import _channel
from tests.support.commands import run_command
from tests.support.server import fetch_file, wait_until

OURS = "- **Root cause:** the matching engine's dependency ran out of file handles"


def _drafts(sandbox: Any, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in sandbox.messages(channel)
        if m.get("files") and m["text"].startswith("Postmortem draft")
    ]


def _resolved(service: Any) -> tuple[str, dict[str, Any]]:
    runtime, sandbox = service.runtime, service.sandbox
    run_command(runtime, "declare Spot trading errors sev1", user_id="U0ALICE")
    channel = wait_until(lambda: _channel(sandbox, "inc-"), timeout=10)["id"]
    wait_until(lambda: any(m.get("pinned_to") for m in sandbox.messages(channel)))
    run_command(runtime, "cause dependency failed", user_id="U0ALICE", channel_id=channel)
    run_command(runtime, "resolve restored", user_id="U0ALICE", channel_id=channel)
    message = wait_until(lambda: _drafts(sandbox, channel), timeout=10)[0]
    return channel, message


def test_an_edited_draft_shared_in_its_thread_survives_regeneration(service) -> None:
    sandbox = service.sandbox
    channel, posted = _resolved(service)
    draft = fetch_file(sandbox, posted["files"][0]["url_private"]).text
    assert "- **Root cause:** dependency failed" in draft
    edited = draft.replace("- **Root cause:** dependency failed", OURS)
    alice = sandbox.as_user("U0ALICE")

    alice.web.files_upload_v2(
        channel=channel,
        thread_ts=posted["ts"],
        content=edited,
        filename="postmortem-incident-1.md",
    )

    def saved() -> list[dict[str, Any]]:
        return [
            m
            for m in sandbox.messages(channel, replies=True)
            if m["text"].startswith("Postmortem edits saved")
        ]

    (answer,) = wait_until(saved, timeout=10)
    assert answer["text"] == (
        "Postmortem edits saved from postmortem-incident-1.md; `/incident postmortem` keeps "
        "them. Edited: Root cause and trigger."
    )
    assert answer["thread_ts"] == posted["ts"]
    api = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth)
    assert api.text == edited

    run_command(service.runtime, "note customers emailed", user_id="U0ALICE", channel_id=channel)
    run_command(service.runtime, "postmortem", user_id="U0ALICE", channel_id=channel)

    second = wait_until(lambda: _drafts(sandbox, channel)[1:], timeout=10)[0]
    regenerated = fetch_file(sandbox, second["files"][0]["url_private"]).text
    assert OURS in regenerated
    assert "- **Root cause:** dependency failed" not in regenerated
    timeline = regenerated.split("## Timeline")[1].split("\n## ")[0]
    assert "customers emailed" in timeline
    assert "postmortem edited from a file in Slack (postmortem-incident-1.md)" in timeline


def test_a_file_that_is_not_text_is_refused_and_nothing_saved(service) -> None:
    sandbox = service.sandbox
    channel, _ = _resolved(service)
    before = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth).text
    alice = sandbox.as_user("U0ALICE")

    alice.web.files_upload_v2(
        channel=channel, file=b"\x89PNG\r\n\x1a\n\xff\xfe", filename="postmortem-incident-1.md"
    )

    def refused() -> list[dict[str, Any]]:
        return [
            m
            for m in sandbox.messages(channel, ephemeral=True)
            if m["text"].startswith("Nothing was saved")
        ]

    (answer,) = wait_until(refused, timeout=10)
    assert answer["text"] == (
        "Nothing was saved: postmortem-incident-1.md is not UTF-8 text: share the Markdown "
        "file itself."
    )
    after = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth).text
    assert after == before


def test_other_files_in_the_channel_are_left_alone(service) -> None:
    sandbox = service.sandbox
    channel, _ = _resolved(service)
    alice = sandbox.as_user("U0ALICE")

    alice.web.files_upload_v2(channel=channel, content="# notes\n", filename="notes.md")
    alice.web.files_upload_v2(
        channel=channel, content="# ours\n", filename="postmortem-incident-1.md"
    )

    wait_until(
        lambda: [m for m in sandbox.messages(channel) if "Postmortem edits saved" in m["text"]],
        timeout=10,
    )
    saved = [m for m in sandbox.messages(channel) if "Postmortem edits saved" in m["text"]]
    assert [m["text"].split(";")[0] for m in saved] == [
        "Postmortem edits saved from postmortem-incident-1.md"
    ]


def test_a_file_too_large_is_refused_before_it_is_downloaded(service) -> None:
    sandbox = service.sandbox
    channel, _ = _resolved(service)
    before = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth).text

    sandbox.as_user("U0ALICE").web.files_upload_v2(
        channel=channel, content="#" * (MAX_BYTES + 1), filename="postmortem-incident-1.md"
    )

    def refused() -> list[dict[str, Any]]:
        return [
            m
            for m in sandbox.messages(channel, ephemeral=True)
            if m["text"].startswith("Nothing was saved")
        ]

    (answer,) = wait_until(refused, timeout=10)
    assert answer["text"] == (
        f"Nothing was saved: postmortem-incident-1.md is {MAX_BYTES + 1} bytes; a postmortem "
        f"file can be at most {MAX_BYTES}."
    )
    after = httpx.get(f"{service.url}/api/incidents/1/postmortem", headers=service.auth).text
    assert after == before

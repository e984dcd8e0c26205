"""files_upload_v2 end to end, and views.open/update/publish."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.client import SandboxClient

POSTMORTEM = "# Postmortem: matching engine outage\n\n| 17:56 | alerts fired |\n"

MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [{"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "T"},
                "element": {"type": "plain_text_input", "action_id": "value"}}],
}  # fmt: skip


def test_files_upload_v2_shares_and_serves_the_content(
    bot: WebClient, sandbox: SandboxClient
) -> None:
    uploaded = bot.files_upload_v2(
        channel="C0INCIDENTS",
        content=POSTMORTEM,
        filename="postmortem.md",
        title="Postmortem draft",
        initial_comment="Postmortem draft attached",
    )
    file = uploaded["file"]
    assert (file["name"], file["title"], file["size"]) == (
        "postmortem.md",
        "Postmortem draft",
        len(POSTMORTEM.encode()),
    )
    message = sandbox.messages("incidents")[-1]
    assert message["text"] == "Postmortem draft attached"
    assert [f["id"] for f in message["files"]] == [file["id"]]
    url = message["files"][0]["url_private"]
    served = httpx.get(url, headers={"Authorization": f"Bearer {bot.token}"})
    assert served.status_code == 200
    assert served.text == POSTMORTEM
    assert served.headers["content-type"].startswith("text/markdown")
    # As on Slack: without a token of the workspace, the sign-in page (200, HTML), no file.
    for headers in ({}, {"Authorization": "Bearer xoxb-not-a-token"}, {"Authorization": "x"}):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 200
        assert refused.headers["content-type"].startswith("text/html")
        assert "Sign in" in refused.text and POSTMORTEM not in refused.text
    # The sandbox page shows it to its user, as Slack's client does with its session.
    base = url.split("/files/")[0]
    page_url = f"{base}/ui/files/U0ALICE/{file['id']}/postmortem.md"
    assert httpx.get(page_url).text == POSTMORTEM
    assert "Sign in" in httpx.get(f"{base}/ui/files/U0NOBODY/{file['id']}/postmortem.md").text
    info = bot.files_info(file=file["id"])["file"]
    assert info["channels"] == ["C0INCIDENTS"]
    assert info["shares"]["public"]["C0INCIDENTS"][0]["ts"] == message["ts"]


async def test_async_files_upload_v2(sandbox: SandboxClient) -> None:
    client: AsyncWebClient = sandbox.async_bot()
    uploaded = await client.files_upload_v2(
        channel="C0GENERAL", content=b"\x00\x01binary", filename="dump.bin"
    )
    url = uploaded["file"]["url_private_download"]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {client.token}"}) as http:
        assert (await http.get(url)).content == b"\x00\x01binary"


def test_upload_errors(bot: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        bot.files_completeUploadExternal(files=[{"id": "F0NOPE"}], channel_id="C0GENERAL")
    assert caught.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as caught:
        bot.files_upload_v2(channel="C0NOPE", content="x", filename="x.txt")
    assert caught.value.response["error"] == "channel_not_found"


def test_views_open_update_publish(running, bot: WebClient) -> None:
    trigger = running.sandbox.issue_trigger("U0ALICE")
    opened = bot.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["blocks"] == MODAL["blocks"]
    changed = {**MODAL, "title": {"type": "plain_text", "text": "Declared"}}
    updated = bot.views_update(view_id=opened["id"], view=changed, hash=opened["hash"])["view"]
    assert updated["title"]["text"] == "Declared" and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as caught:
        bot.views_update(view_id=opened["id"], view=changed, hash=opened["hash"])
    assert caught.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as caught:
        bot.views_update(view_id="V0NOPE", view=changed)
    assert caught.value.response["error"] == "not_found"
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    first = bot.views_publish(user_id="U0ALICE", view=home)["view"]
    second = bot.views_publish(user_id="U0ALICE", view=home)["view"]
    assert first["id"] == second["id"] and first["type"] == "home"
    with pytest.raises(SlackApiError) as caught:
        bot.views_open(trigger_id="1.2", view={"type": "modal"})
    assert caught.value.response["error"] == "invalid_arguments"

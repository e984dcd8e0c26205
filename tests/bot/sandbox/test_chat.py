"""chat.*, history, replies, pins, reactions, bookmarks over HTTP with slack-sdk."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.client import SandboxClient

CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "SEV1 Matching engine down"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Status:* investigating <!here>"}},
]


def error_of(call, **kwargs) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return caught.value.response["error"]


@pytest.fixture
def channel_id(bot: WebClient) -> str:
    channel = bot.conversations_create(name="inc-chat")["channel"]["id"]
    bot.conversations_invite(channel=channel, users="U0ALICE,U0BOB")
    return channel


def test_post_stores_blocks_verbatim_and_history_is_newest_first(
    bot: WebClient, channel_id: str
) -> None:
    first = bot.chat_postMessage(channel=channel_id, text="fallback", blocks=CARD)
    second = bot.chat_postMessage(channel="#inc-chat", text="*second*", unfurl_links=False)
    assert first["message"]["blocks"] == CARD
    assert first["message"]["bot_id"] == "B0WARROOM"
    assert float(second["ts"]) > float(first["ts"])
    assert len(first["ts"].split(".")[1]) == 6
    history = bot.conversations_history(channel=channel_id)
    top = [m for m in history["messages"] if "subtype" not in m]
    assert [(m["ts"], m["text"]) for m in top] == [
        (second["ts"], "*second*"),
        (first["ts"], "fallback"),
    ]
    assert top[1]["blocks"] == CARD
    assert history["has_more"] is False


def test_history_paginates_and_windows(bot: WebClient, channel_id: str) -> None:
    posted = [bot.chat_postMessage(channel=channel_id, text=f"m{n}")["ts"] for n in range(5)]
    page = bot.conversations_history(channel=channel_id, limit=2, oldest=posted[0], inclusive=True)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"]
    assert page["has_more"] is True
    cursor = page["response_metadata"]["next_cursor"]
    rest = bot.conversations_history(
        channel=channel_id, limit=10, oldest=posted[0], inclusive=True, cursor=cursor
    )
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    window = bot.conversations_history(channel=channel_id, oldest=posted[1], latest=posted[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]


def test_bot_must_be_in_a_public_channel_to_post(bot: WebClient, sandbox: SandboxClient) -> None:
    alice = sandbox.as_user("alice")
    channel_id = alice.web.conversations_create(name="alice-public")["channel"]["id"]
    assert error_of(bot.chat_postMessage, channel=channel_id, text="hi") == "not_in_channel"
    assert error_of(bot.conversations_history, channel=channel_id) == "not_in_channel"
    assert error_of(bot.chat_postMessage, channel="C0NOPE", text="hi") == "channel_not_found"
    assert error_of(bot.api_call, api_method="chat.postMessage", json={"channel": "C0GENERAL"}) == (
        "no_text"
    )


def test_user_posts_and_threads(bot: WebClient, sandbox: SandboxClient, channel_id: str) -> None:
    parent = bot.chat_postMessage(channel=channel_id, text="Incident declared")
    reply = sandbox.as_user("alice").post("inc-chat", "ack", thread_ts=parent["ts"])
    assert reply["message"]["user"] == "U0ALICE"
    assert "bot_id" not in reply["message"]
    thread = bot.conversations_replies(channel=channel_id, ts=parent["ts"])["messages"]
    assert [(m["user"], m["text"]) for m in thread] == [
        ("U0WARROOM", "Incident declared"),
        ("U0ALICE", "ack"),
    ]
    assert thread[0]["reply_count"] == 1 and thread[0]["reply_users"] == ["U0ALICE"]
    in_channel = [m["text"] for m in sandbox.messages(channel_id) if "subtype" not in m]
    assert in_channel == ["Incident declared"]
    with_replies = [m["text"] for m in sandbox.messages(channel_id, replies=True)]
    assert with_replies[-2:] == ["Incident declared", "ack"]
    assert error_of(bot.conversations_replies, channel=channel_id, ts="1.000001") == (
        "thread_not_found"
    )


def test_update_and_permalink(bot: WebClient, sandbox: SandboxClient, channel_id: str) -> None:
    posted = bot.chat_postMessage(channel=channel_id, text="status: investigating", blocks=CARD)
    updated = bot.chat_update(channel=channel_id, ts=posted["ts"], text="status: identified")
    assert updated["message"]["text"] == "status: identified"
    assert updated["message"]["blocks"] == CARD
    stored = next(m for m in sandbox.messages(channel_id) if m["ts"] == posted["ts"])
    assert stored["text"] == "status: identified" and stored["edited"]["user"] == "U0WARROOM"
    alice_ts = sandbox.as_user("alice").post(channel_id, "mine")["ts"]
    assert error_of(bot.chat_update, channel=channel_id, ts=alice_ts, text="x") == (
        "cant_update_message"
    )
    assert error_of(bot.chat_update, channel=channel_id, ts="1.000001", text="x") == (
        "message_not_found"
    )
    link = bot.chat_getPermalink(channel=channel_id, message_ts=posted["ts"])["permalink"]
    assert link.startswith(sandbox.base_url + "/sandbox/archives/" + channel_id + "/p")


def test_ephemeral_is_not_in_history(bot: WebClient, sandbox: SandboxClient, channel_id) -> None:
    sent = bot.chat_postEphemeral(channel=channel_id, user="U0ALICE", text="Usage: /incident ack")
    assert sent["message_ts"]
    texts = [m.get("text") for m in bot.conversations_history(channel=channel_id)["messages"]]
    assert "Usage: /incident ack" not in texts
    shown = [m for m in sandbox.messages(channel_id, ephemeral=True) if m.get("is_ephemeral")]
    assert [(m["ephemeral_user"], m["text"]) for m in shown] == [
        ("U0ALICE", "Usage: /incident ack")
    ]
    flagged = bot.conversations_history(channel=channel_id, sandbox_include_ephemeral=True)
    assert flagged["messages"][0]["text"] == "Usage: /incident ack"
    postEphemeral = bot.chat_postEphemeral
    assert error_of(postEphemeral, channel=channel_id, user="U0ERIN", text="x") == (
        "user_not_in_channel"
    )


def test_pins_and_reactions(bot: WebClient, sandbox: SandboxClient, channel_id: str) -> None:
    ts = sandbox.as_user("bob").post(channel_id, "restarting the matching engine")["ts"]
    assert bot.pins_add(channel=channel_id, timestamp=ts)["ok"] is True
    assert error_of(bot.pins_add, channel=channel_id, timestamp=ts) == "already_pinned"
    assert error_of(bot.pins_add, channel=channel_id, timestamp="1.000001") == "message_not_found"
    items = bot.pins_list(channel=channel_id)["items"]
    assert [(i["created_by"], i["message"]["text"]) for i in items] == [
        ("U0WARROOM", "restarting the matching engine")
    ]
    assert items[0]["message"]["pinned_to"] == [channel_id]
    alice = sandbox.as_user("alice")
    alice.react(channel_id, ts, "pushpin")
    bot.reactions_add(channel=channel_id, timestamp=ts, name=":pushpin:")
    assert error_of(bot.reactions_add, channel=channel_id, timestamp=ts, name="pushpin") == (
        "already_reacted"
    )
    message = next(m for m in sandbox.messages(channel_id) if m["ts"] == ts)
    assert message["reactions"] == [
        {"name": "pushpin", "users": ["U0ALICE", "U0WARROOM"], "count": 2}
    ]
    assert bot.conversations_history(channel=channel_id)["pin_count"] == 1


def test_bookmarks(bot: WebClient, channel_id: str) -> None:
    added = bot.bookmarks_add(
        channel_id=channel_id, title="Runbook", type="link", link="https://runbooks/matching"
    )
    bookmark = added["bookmark"]
    assert (bookmark["title"], bookmark["link"], bookmark["channel_id"]) == (
        "Runbook",
        "https://runbooks/matching",
        channel_id,
    )
    assert bot.bookmarks_list(channel_id=channel_id)["bookmarks"] == [bookmark]
    no_link = {"channel_id": channel_id, "title": "x", "type": "link"}
    assert error_of(bot.api_call, api_method="bookmarks.add", params=no_link) == (
        "invalid_arguments"
    )


def test_direct_message_to_a_user(bot: WebClient) -> None:
    sent = bot.chat_postMessage(channel="U0ALICE", text="You are on call")
    assert sent["channel"].startswith("D")
    history = bot.conversations_history(channel=sent["channel"])["messages"]
    assert [m["text"] for m in history] == ["You are on call"]


def test_concurrent_posts_get_unique_increasing_ts(sandbox: SandboxClient) -> None:
    sandbox.rate_limits(False)  # 30 posts at once test ts allocation, not Slack's 1/s limit

    def post(n: int) -> str:
        return sandbox.bot().chat_postMessage(channel="C0INCIDENTS", text=f"storm {n}")["ts"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        stamps = list(pool.map(post, range(30)))
    assert len(set(stamps)) == 30
    stored = [m for m in sandbox.messages("incidents") if m["text"].startswith("storm")]
    assert len(stored) == 30
    in_order = sorted(stamps, key=lambda ts: tuple(map(int, ts.split("."))))
    assert [m["ts"] for m in stored] == in_order


def test_over_long_text_is_refused_as_slack_documents(bot: WebClient, channel_id: str) -> None:
    # chat.postMessage: "msg_too_long" past 40,000 characters of text; Block Kit's limits
    # (header 150, section text 3,000, each field 2,000) answer "invalid_blocks" naming
    # the field by JSON pointer, as Slack does.
    post = bot.chat_postMessage
    assert error_of(post, channel=channel_id, text="x" * 40_001) == "msg_too_long"
    header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    section = [
        {"type": "divider"},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]},
    ]
    with pytest.raises(SlackApiError) as caught:
        post(channel=channel_id, text="fallback", blocks=header)
    assert caught.value.response["error"] == "invalid_blocks"
    assert caught.value.response["errors"] == [
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]"
    ]
    with pytest.raises(SlackApiError) as caught:
        bot.chat_update(
            channel=channel_id, ts=post(channel=channel_id, text="x")["ts"], blocks=section
        )
    assert caught.value.response["errors"] == [
        "must be less than 2001 characters [json-pointer:/blocks/1/fields/0/text]"
    ]
    at_limit = [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}}]
    assert post(channel=channel_id, text="x" * 40_000, blocks=at_limit)["ok"]
    assert (
        error_of(
            post,
            channel=channel_id,
            blocks=[{**at_limit[0], "text": {"type": "mrkdwn", "text": "s" * 3001}}],
        )
        == "invalid_blocks"
    )


def test_message_metadata_is_kept_and_shown_only_to_who_asks_for_it(
    bot: WebClient, sandbox: SandboxClient
) -> None:
    # Slack's message metadata (docs.slack.dev/messaging/message-metadata): shown by
    # conversations.history with include_all_metadata=true.
    metadata = {"event_type": "warroom_op", "event_payload": {"op": 7}}
    posted = bot.chat_postMessage(channel="C0GENERAL", text="tagged", metadata=metadata)
    with_metadata = bot.conversations_history(channel="C0GENERAL", include_all_metadata=True)
    tagged = next(m for m in with_metadata["messages"] if m["ts"] == posted["ts"])
    assert tagged["metadata"] == metadata
    plain = bot.conversations_history(channel="C0GENERAL")
    assert "metadata" not in next(m for m in plain["messages"] if m["ts"] == posted["ts"])


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("not json", "invalid_metadata_format"),
        ('["a list"]', "invalid_metadata_format"),
        ('{"event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "x", "event_payload": "text"}', "invalid_metadata_schema"),
    ],
)
def test_malformed_metadata_is_refused_and_posts_nothing(
    bot: WebClient, sandbox: SandboxClient, metadata: str, error: str
) -> None:
    before = len(sandbox.messages("general"))
    with pytest.raises(SlackApiError) as caught:
        bot.api_call(
            "chat.postMessage",
            json={"channel": "C0GENERAL", "text": "bad tag", "metadata": metadata},
        )
    assert caught.value.response["error"] == error
    assert len(sandbox.messages("general")) == before


def test_ephemeral_where_the_app_cannot_post_is_refused(bot: WebClient, sandbox: SandboxClient):
    """chat.postEphemeral (docs.slack.dev/reference/methods/chat.postEphemeral): the user must
    be in the channel (`user_not_in_channel`), the app too (`not_in_channel`), and a DM
    between two people is not the app's to see (`channel_not_found`)."""
    alice = sandbox.as_user("alice")
    dm = alice.web.conversations_open(users="U0BOB")["channel"]["id"]
    assert error_of(bot.chat_postEphemeral, channel=dm, user="U0ALICE", text="x") == (
        "channel_not_found"
    )
    elsewhere = alice.web.conversations_create(name="alice-only")["channel"]["id"]
    assert error_of(bot.chat_postEphemeral, channel=elsewhere, user="U0ALICE", text="x") == (
        "not_in_channel"
    )
    for channel in (dm, elsewhere):
        assert not [m for m in sandbox.messages(channel, ephemeral=True) if m.get("is_ephemeral")]

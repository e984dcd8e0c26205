"""conversations.* over HTTP with slack-sdk: Slack's answers and errors."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.client import SandboxClient


def error_of(call, **kwargs) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    assert caught.value.response.status_code == 200
    return caught.value.response["error"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc Bad!", "invalid_name_specials"),
        ("UPPER", "invalid_name_specials"),
        ("a" * 81, "invalid_name_maxlength"),
        ("---", "invalid_name_punctuation"),
        ("", "invalid_name_required"),
        ("inc-Ошибка", "invalid_name_specials"),
        ("inc-🔥-fire", "invalid_name_specials"),
        ("inc.dots", "invalid_name_specials"),
        ("決" * 81, "invalid_name_maxlength"),
        ("_-_", "invalid_name_punctuation"),
    ],
    ids=[
        "specials",
        "uppercase",
        "81-chars",
        "punctuation",
        "empty",
        "uppercase-cyrillic",
        "emoji",
        "period",
        "81-han",
        "underscores-and-hyphens",
    ],
)
def test_create_rejects_names_slack_rejects(bot: WebClient, name: str, error: str) -> None:
    """Slack's rules and errors: docs.slack.dev/reference/methods/conversations.create."""
    assert error_of(bot.conversations_create, name=name) == error


@pytest.mark.parametrize(
    "name",
    ["inc-20210310-決済が止まった", "inc-ошибка-базы", "inc-café_à_la_carte", "दिल्ली-2", "決" * 80],
    ids=["japanese", "cyrillic", "accents", "devanagari", "80-han"],
)
def test_create_accepts_lowercase_letters_of_any_script(bot: WebClient, name: str) -> None:
    """Lowercase letters of any script, digits, `-` and `_`, up to 80 characters
    (docs.slack.dev/reference/methods/conversations.create)."""
    created = bot.conversations_create(name=name)["channel"]
    assert created["name"] == name
    assert bot.conversations_info(channel=created["id"])["channel"]["name"] == name


def test_create_then_twice_is_name_taken(bot: WebClient) -> None:
    name = "inc-20210310-matching-engine_" + "x" * 51
    created = bot.conversations_create(name=name)
    channel = created["channel"]
    assert len(name) == 80
    assert channel["id"].startswith("C")
    assert (channel["name"], channel["is_member"], channel["creator"]) == (name, True, "U0WARROOM")
    assert error_of(bot.conversations_create, name=name) == "name_taken"


def test_info_and_not_found(bot: WebClient) -> None:
    channel_id = bot.conversations_create(name="inc-info")["channel"]["id"]
    info = bot.conversations_info(channel=channel_id, include_num_members=True)["channel"]
    assert (info["name"], info["num_members"], info["is_archived"]) == ("inc-info", 1, False)
    assert error_of(bot.conversations_info, channel="C0NOPE") == "channel_not_found"


def test_invite_is_a_batch(bot: WebClient, sandbox: SandboxClient) -> None:
    channel_id = bot.conversations_create(name="inc-invite")["channel"]["id"]
    bot.conversations_invite(channel=channel_id, users=["U0ALICE", "U0BOB", "U0CAROL"])
    members = bot.conversations_members(channel=channel_id)["members"]
    assert sorted(members) == ["U0ALICE", "U0BOB", "U0CAROL", "U0WARROOM"]
    joins = [m for m in sandbox.messages(channel_id) if m.get("subtype") == "channel_join"]
    assert [(m["user"], m.get("inviter")) for m in joins] == [
        ("U0WARROOM", None),
        ("U0ALICE", "U0WARROOM"),
        ("U0BOB", "U0WARROOM"),
        ("U0CAROL", "U0WARROOM"),
    ]


def test_invite_errors(bot: WebClient) -> None:
    channel_id = bot.conversations_create(name="inc-invite-errors")["channel"]["id"]
    bot.conversations_invite(channel=channel_id, users="U0ALICE")
    invite = bot.conversations_invite
    assert error_of(invite, channel=channel_id, users="U0ALICE") == "already_in_channel"
    assert error_of(invite, channel=channel_id, users="U0WARROOM") == "cant_invite_self"
    assert error_of(invite, channel=channel_id, users="U0NOBODY,U0BOB") == "user_not_found"
    assert "U0BOB" not in bot.conversations_members(channel=channel_id)["members"]
    forced = invite(channel=channel_id, users="U0NOBODY,U0BOB", force=True)
    assert forced["errors"] == [{"user": "U0NOBODY", "ok": False, "error": "user_not_found"}]
    assert "U0BOB" in bot.conversations_members(channel=channel_id)["members"]
    assert error_of(invite, channel="C0NOPE", users="U0BOB") == "channel_not_found"


def test_invite_needs_the_inviter_in_the_channel(bot: WebClient, sandbox: SandboxClient) -> None:
    alice = sandbox.as_user("alice").web
    channel_id = alice.conversations_create(name="alice-only")["channel"]["id"]
    assert error_of(bot.conversations_invite, channel=channel_id, users="U0BOB") == "not_in_channel"


def test_join_kick_and_already_in_channel(bot: WebClient, sandbox: SandboxClient) -> None:
    alice = sandbox.as_user("alice").web
    channel_id = alice.conversations_create(name="alice-room")["channel"]["id"]
    assert bot.conversations_join(channel=channel_id)["channel"]["is_member"] is True
    again = bot.conversations_join(channel=channel_id)
    assert again["warning"] == "already_in_channel"
    assert bot.conversations_kick(channel=channel_id, user="U0ALICE")["ok"] is True
    kick = bot.conversations_kick
    assert error_of(kick, channel=channel_id, user="U0ALICE") == "not_in_channel"
    assert error_of(kick, channel=channel_id, user="U0WARROOM") == "cant_kick_self"


def test_topic_purpose_archive(bot: WebClient, sandbox: SandboxClient) -> None:
    channel_id = bot.conversations_create(name="inc-topic")["channel"]["id"]
    topic = bot.conversations_setTopic(channel=channel_id, topic="sev1 · investigating")
    assert topic["channel"]["topic"]["value"] == "sev1 · investigating"
    purpose = bot.conversations_setPurpose(channel=channel_id, purpose="Matching engine down")
    assert purpose["channel"]["purpose"]["value"] == "Matching engine down"
    subtypes = [m.get("subtype") for m in sandbox.messages(channel_id)]
    assert subtypes == ["channel_join", "channel_topic", "channel_purpose"]
    assert bot.conversations_archive(channel=channel_id)["ok"] is True
    assert bot.conversations_info(channel=channel_id)["channel"]["is_archived"] is True
    assert error_of(bot.chat_postMessage, channel=channel_id, text="late") == "is_archived"
    assert error_of(bot.conversations_archive, channel=channel_id) == "already_archived"
    assert error_of(bot.conversations_archive, channel="C0GENERAL") == "cant_archive_general"


def test_list_paginates_and_hides_private(bot: WebClient, sandbox: SandboxClient) -> None:
    for n in range(5):
        bot.conversations_create(name=f"inc-list-{n}")
    sandbox.as_user("alice").web.conversations_create(name="alice-secret", is_private=True)
    names, cursor, pages = [], None, 0
    while True:
        types = "public_channel,private_channel"
        page = bot.conversations_list(limit=3, cursor=cursor, types=types)
        names += [c["name"] for c in page["channels"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert names == ["general", "incidents"] + [f"inc-list-{n}" for n in range(5)]
    assert error_of(bot.conversations_list, cursor="not-a-cursor") == "invalid_cursor"


def test_members_paginate(bot: WebClient) -> None:
    first = bot.conversations_members(channel="C0GENERAL", limit=4)
    rest = bot.conversations_members(
        channel="C0GENERAL", cursor=first["response_metadata"]["next_cursor"]
    )
    assert len(first["members"]) == 4
    assert sorted(first["members"] + rest["members"]) == sorted(
        ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN", "U0WARROOM"]
    )
    assert rest["response_metadata"]["next_cursor"] == ""

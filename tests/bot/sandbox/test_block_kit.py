"""Block Kit as strict as Slack: what Slack refuses, the sandbox refuses, in Slack's words.

Each test names the docs.slack.dev page its rule comes from. Messages answer `invalid_blocks`
with an `errors` list; views answer `invalid_arguments` with `response_metadata.messages`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from tests.bot.sandbox.conftest import RunningSandbox
from tests.bot.sandbox.test_driver import World, _bot_posts_card, _world


def _text(text: str, kind: str = "mrkdwn") -> dict[str, str]:
    return {"type": kind, "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text(text)}


def _button(text: str = "Ack", action_id: str = "ack") -> dict[str, Any]:
    return {"type": "button", "text": _text(text, "plain_text"), "action_id": action_id}


def _refused(bot: WebClient, blocks: list[dict[str, Any]], method: str = "post") -> list[str]:
    """The `errors` Slack gives for the blocks (posted, or put in an existing message)."""
    with pytest.raises(SlackApiError) as caught:
        if method == "post":
            bot.chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks)
        elif method == "update":
            ts = bot.chat_postMessage(channel="C0GENERAL", text="before")["ts"]
            bot.chat_update(channel="C0GENERAL", ts=ts, text="after", blocks=blocks)
        else:
            bot.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    return list(caught.value.response["errors"])


def _posted(bot: WebClient, blocks: list[dict[str, Any]]) -> bool:
    return bool(bot.chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks)["ok"])


def test_a_message_holds_at_most_fifty_blocks(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks: up to 50 blocks in a message."""
    assert _posted(bot, [{"type": "divider"}] * 50)
    assert _refused(bot, [{"type": "divider"}] * 51) == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]


def test_header_text_is_plain_text_of_at_most_150_characters(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks/header-block: `text`, plain_text, max 150."""
    assert _posted(bot, [{"type": "header", "text": _text("h" * 150, "plain_text")}])
    long = [{"type": "header", "text": _text("h" * 151, "plain_text")}]
    assert _refused(bot, long) == [
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]"
    ]
    styled = [{"type": "header", "text": _text("*bold*")}]
    assert _refused(bot, styled) == [
        "must be a valid enum value [json-pointer:/blocks/0/text/type]"
    ]


def test_section_text_3000_at_most_ten_fields_of_2000(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks/section-block: text max 3,000 characters;
    `fields` at most 10 items, each max 2,000; text or fields required."""
    assert _posted(bot, [_section("s" * 3000), {"type": "section", "fields": [_text("f")] * 10}])
    assert _refused(bot, [_section("s" * 3001)]) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    eleven = {"type": "section", "fields": [_text("f")] * 11}
    assert _refused(bot, [eleven]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]"
    ]
    long_field = {"type": "section", "fields": [_text("ok"), _text("f" * 2001)]}
    assert _refused(bot, [{"type": "divider"}, long_field], "update") == [
        "must be less than 2001 characters [json-pointer:/blocks/1/fields/1/text]"
    ]
    assert _refused(bot, [{"type": "section"}]) == [
        "missing required field: text [json-pointer:/blocks/0]"
    ]


def test_any_text_object_holds_one_to_3000_characters(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/composition-objects/text-object: `text` minimum 1,
    maximum 3,000 characters; `type` plain_text or mrkdwn."""
    context = {"type": "context", "elements": [_text("c" * 3001)]}
    assert _refused(bot, [context]) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]"
    ]
    assert _refused(bot, [_section("")]) == [
        "must be more than 0 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert _refused(bot, [{"type": "section", "text": _text("x", "html")}]) == [
        "unsupported type: html [json-pointer:/blocks/0/text/type]"
    ]


def test_context_holds_at_most_ten_elements(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks/context-block: `elements` required, max 10."""
    assert _posted(bot, [{"type": "context", "elements": [_text("c")] * 10}])
    assert _refused(bot, [{"type": "context", "elements": [_text("c")] * 11}]) == [
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]"
    ]
    assert _refused(bot, [{"type": "context"}]) == [
        "missing required field: elements [json-pointer:/blocks/0]"
    ]


def test_actions_hold_at_most_25_elements(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks/actions-block: `elements` max 25."""
    buttons = [_button(action_id=f"b{n}") for n in range(26)]
    assert _posted(bot, [{"type": "actions", "elements": buttons[:25]}])
    assert _refused(bot, [{"type": "actions", "elements": buttons}], "ephemeral") == [
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]"
    ]


def test_button_text_is_plain_text_of_at_most_75_characters(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/block-elements/button-element: `text` plain_text,
    max 75 characters; `text` required."""
    actions = {"type": "actions", "elements": [_button("b" * 76)]}
    assert _refused(bot, [actions]) == [
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"
    ]
    no_text = {"type": "actions", "elements": [{"type": "button", "action_id": "x"}]}
    assert _refused(bot, [no_text]) == [
        "missing required field: text [json-pointer:/blocks/0/elements/0]"
    ]
    styled = {"type": "actions", "elements": [{**_button(), "text": _text("*Ack*")}]}
    assert _refused(bot, [styled]) == [
        "must be a valid enum value [json-pointer:/blocks/0/elements/0/text/type]"
    ]


def test_a_confirmation_dialog_is_checked_too(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object:
    `title` max 100, `text` max 300, `confirm` and `deny` max 30 characters."""
    dialog = {
        "title": _text("Resolve the incident?", "plain_text"),
        "text": _text("This closes it."),
        "confirm": _text("Resolve", "plain_text"),
        "deny": _text("Cancel", "plain_text"),
    }
    button = {**_button(), "confirm": dialog}
    assert _posted(bot, [{"type": "actions", "elements": [button]}])
    long = {**button, "confirm": {**dialog, "title": _text("t" * 101, "plain_text")}}
    assert _refused(bot, [{"type": "actions", "elements": [long]}]) == [
        "must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]"
    ]


def test_action_id_and_block_id_hold_at_most_255_characters(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks (`block_id` max 255) and
    .../block-elements/button-element (`action_id` max 255)."""
    assert _posted(bot, [{**_section("x"), "block_id": "b" * 255}])
    assert _refused(bot, [{**_section("x"), "block_id": "b" * 256}]) == [
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]"
    ]
    actions = {"type": "actions", "elements": [_button(action_id="a" * 256)]}
    assert _refused(bot, [actions]) == [
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"
    ]


def test_block_ids_are_unique_in_a_message(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks: "block_id should be unique for each message"."""
    blocks = [{**_section("a"), "block_id": "card"}, {**_section("b"), "block_id": "card"}]
    assert _refused(bot, blocks) == ["duplicate block_id: card [json-pointer:/blocks/1/block_id]"]


def test_unknown_block_and_element_types_are_refused(bot: WebClient) -> None:
    """docs.slack.dev/reference/block-kit/blocks and .../block-elements: only the listed types;
    Slack names the bad `type` (docs.slack.dev/reference/methods/blocks.validate)."""
    assert _refused(bot, [{"type": "banner", "text": _text("x")}]) == [
        "unsupported type: banner [json-pointer:/blocks/0/type]"
    ]
    actions = {"type": "actions", "elements": [{"type": "slider", "action_id": "x"}]}
    assert _refused(bot, [_section("ok"), actions]) == [
        "unsupported type: slider [json-pointer:/blocks/1/elements/0/type]"
    ]
    assert _refused(bot, [{"text": _text("x")}]) == [
        "missing required field: type [json-pointer:/blocks/0]"
    ]


def test_every_broken_rule_is_named_at_once(bot: WebClient) -> None:
    """docs.slack.dev/reference/methods/chat.postMessage: `invalid_blocks` lists each problem."""
    blocks = [
        {"type": "header", "text": _text("h" * 151, "plain_text")},
        _section("s" * 3001),
    ]
    assert _refused(bot, blocks) == [
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]",
    ]


# -- views ------------------------------------------------------------------------------------

MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": _text("Declare an incident", "plain_text"),
    "submit": _text("Declare", "plain_text"),
    "close": _text("Cancel", "plain_text"),
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": _text("What is wrong?", "plain_text"),
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


def _view_refused(running: RunningSandbox, view: dict[str, Any], method: str = "open") -> list[str]:
    bot = running.client.bot()
    with pytest.raises(SlackApiError) as caught:
        if method == "open":
            bot.views_open(trigger_id=running.sandbox.issue_trigger("U0ALICE"), view=view)
        else:
            bot.views_publish(user_id="U0ALICE", view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    return list(caught.value.response["response_metadata"]["messages"])


def test_modal_title_submit_and_close_hold_at_most_24_characters(running: RunningSandbox) -> None:
    """docs.slack.dev/reference/views: a modal's `title`, `submit` and `close` are plain_text,
    max 24 characters; views.open answers `invalid_arguments`
    (docs.slack.dev/reference/methods/views.open)."""
    bot = running.client.bot()
    fits = {**MODAL, "title": _text("t" * 24, "plain_text")}
    assert bot.views_open(trigger_id=running.sandbox.issue_trigger("U0ALICE"), view=fits)["ok"]
    long = {
        **MODAL,
        "title": _text("t" * 25, "plain_text"),
        "submit": _text("s" * 25, "plain_text"),
        "close": _text("c" * 25, "plain_text"),
    }
    assert sorted(_view_refused(running, long)) == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/close/text]",
        "[ERROR] must be less than 25 characters [json-pointer:/view/submit/text]",
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
    ]
    styled = {**MODAL, "title": _text("*Declare*")}
    assert _view_refused(running, styled) == [
        "[ERROR] must be a valid enum value [json-pointer:/view/title/type]"
    ]


def test_modal_with_an_input_needs_submit_and_a_title(running: RunningSandbox) -> None:
    """docs.slack.dev/reference/views: `title` required; `submit` required when an input
    block is within the blocks."""
    view = {k: v for k, v in MODAL.items() if k not in ("submit", "title")}
    assert sorted(_view_refused(running, view)) == [
        "[ERROR] missing required field: submit [json-pointer:/view]",
        "[ERROR] missing required field: title [json-pointer:/view]",
    ]


def test_callback_id_255_and_private_metadata_3000(running: RunningSandbox) -> None:
    """docs.slack.dev/reference/views: `callback_id` max 255, `private_metadata` max 3,000."""
    view = {**MODAL, "callback_id": "c" * 256, "private_metadata": "p" * 3001}
    assert sorted(_view_refused(running, view)) == [
        "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]",
        "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]",
    ]


def test_a_view_holds_at_most_100_blocks_each_checked(running: RunningSandbox) -> None:
    """docs.slack.dev/reference/block-kit/blocks: up to 100 blocks in a modal or Home tab;
    views.publish answers `invalid_arguments` (docs.slack.dev/reference/methods/views.publish)."""
    bot = running.client.bot()
    home = {"type": "home", "blocks": [_section("x")] * 100}
    assert bot.views_publish(user_id="U0ALICE", view=home)["ok"]
    assert _view_refused(running, {**home, "blocks": [_section("x")] * 101}, "publish") == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    broken = {"type": "home", "blocks": [_section("s" * 3001), {"type": "banner"}]}
    assert _view_refused(running, broken, "publish") == [
        "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]",
        "[ERROR] unsupported type: banner [json-pointer:/view/blocks/1/type]",
    ]
    twice = {"type": "home", "blocks": [{**_section("a"), "block_id": "x"}] * 2}
    assert _view_refused(running, twice, "publish") == [
        "[ERROR] duplicate block_id: x [json-pointer:/view/blocks/1/block_id]"
    ]


def test_input_label_and_placeholder_limits(running: RunningSandbox) -> None:
    """docs.slack.dev/reference/block-kit/blocks/input-block (`label` plain_text, max 2,000)
    and .../block-elements/plain-text-input-element (`placeholder` plain_text, max 150)."""
    element = {
        "type": "plain_text_input",
        "action_id": "value",
        "placeholder": _text("p" * 151, "plain_text"),
    }
    block = {"type": "input", "label": _text("l" * 2001, "plain_text"), "element": element}
    assert sorted(_view_refused(running, {**MODAL, "blocks": [block]})) == [
        "[ERROR] must be less than 151 characters "
        "[json-pointer:/view/blocks/0/element/placeholder/text]",
        "[ERROR] must be less than 2001 characters [json-pointer:/view/blocks/0/label/text]",
    ]


# -- topics and replies ----------------------------------------------------------------------


def test_topic_and_purpose_hold_at_most_250_characters(bot: WebClient) -> None:
    """docs.slack.dev/reference/methods/conversations.setTopic and .../conversations.setPurpose:
    `too_long` past 250 characters."""
    channel = bot.conversations_create(name="inc-long-topic")["channel"]["id"]
    assert bot.conversations_setTopic(channel=channel, topic="t" * 250)["ok"]
    for call, name in (
        (bot.conversations_setTopic, "topic"),
        (bot.conversations_setPurpose, "purpose"),
    ):
        with pytest.raises(SlackApiError) as caught:
            call(channel=channel, **{name: "t" * 251})
        assert caught.value.response["error"] == "too_long"


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    yield from _world(engine)


def test_a_response_url_reply_is_held_to_the_same_rules(world: World) -> None:
    """docs.slack.dev/interactivity/handling-user-interaction: a response_url takes a message
    payload, so Block Kit's limits and the 40,000 characters of text hold for it."""
    _bot_posts_card(world)
    url = world.client.as_user("carol").click("incidents", "incident_acknowledge")["response_url"]
    refused = httpx.post(url, json={"text": "x", "blocks": [_section("s" * 3001)]})
    assert refused.json() == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"],
    }
    assert httpx.post(url, json={"text": "x" * 40_001}).json()["error"] == "msg_too_long"
    assert httpx.post(url, json={"text": "fits", "blocks": [_section("ok")]}).json()["ok"]

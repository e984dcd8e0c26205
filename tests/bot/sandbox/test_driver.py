"""The driver talks to an app the way Slack does: signed, shaped like Slack, retried like Slack."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient, SandboxError
from tests.support.server import run_app_in_thread, wait_until

BUTTON_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Card*"}},
    {
        "type": "actions",
        "block_id": "incident-7",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "action_id": "incident_acknowledge",
                "value": "7",
                "style": "primary",
            }
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "incident_declare",
    "private_metadata": "C0INCIDENTS",
    "title": {"type": "plain_text", "text": "Declare"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "severity",
            "label": {"type": "plain_text", "text": "Severity"},
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": s.upper()}, "value": s}
                    for s in ("sev1", "sev2", "sev3")
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "SEV3"}, "value": "sev3"},
            },
        },
    ],
}


@dataclass
class Recorder:
    """A stand-in app at /slack/events: records requests, answers as programmed."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    gate: threading.Event | None = None

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [r["payload"] for r in self.requests if r["payload"].get("type") == kind]


@dataclass
class World:
    url: str
    sandbox: Sandbox
    client: SandboxClient
    app: Recorder


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(body)
    form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    return json.loads(form["payload"]) if "payload" in form else form


def _world(engine: Engine, clock=None) -> Iterator[World]:
    sandbox = Sandbox(engine, clock=clock) if clock else Sandbox(engine)
    recorder = Recorder()
    app = FastAPI()
    app.include_router(build_sandbox_router(sandbox, retry_delays=(0, 0, 0)), prefix="/sandbox")

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        payload = _parse(body, content_type)
        recorder.requests.append(
            {"headers": dict(request.headers), "body": body, "payload": payload}
        )
        if recorder.gate is not None and payload.get("type") == "event_callback":
            await asyncio.to_thread(recorder.gate.wait, 5)
        status, answer = recorder.answers.pop(0) if recorder.answers else (200, None)
        if answer is None:
            return Response(status_code=status)
        return Response(json.dumps(answer), status, media_type="application/json")

    with run_app_in_thread(app) as url:
        sandbox.events_url = f"{url}/slack/events"
        client = SandboxClient(url)
        yield World(url, sandbox, client, recorder)
        client.close()
        sandbox.driver.close()


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    yield from _world(engine)


def _verify(world: World, request: dict[str, Any]) -> bool:
    verifier = SignatureVerifier(world.sandbox.signing_secret)
    headers = request["headers"]
    return verifier.is_valid(
        body=request["body"],
        timestamp=headers["x-slack-request-timestamp"],
        signature=headers["x-slack-signature"],
    )


def _bot_posts_card(world: World) -> str:
    bot = world.client.bot()
    return bot.chat_postMessage(channel="C0INCIDENTS", text="card", blocks=BUTTON_BLOCKS)["ts"]


def test_command_is_signed_form_encoded_and_its_ack_text_shows_to_the_user(world) -> None:
    world.app.answers.append((200, {"text": "Acknowledged *#7*"}))
    answer = world.client.as_user("alice").command("/incident ack now", "incidents")

    request = world.app.requests[0]
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert _verify(world, request)
    form = request["payload"]
    assert form["command"] == "/incident" and form["text"] == "ack now"
    assert form["user_id"] == "U0ALICE" and form["user_name"] == "alice"
    assert form["channel_id"] == "C0INCIDENTS" and form["channel_name"] == "incidents"
    assert form["team_id"] == "T0SANDBOX" and form["is_enterprise_install"] == "false"
    assert form["api_app_id"] and form["token"]
    assert form["trigger_id"] == answer["trigger_id"]
    assert form["response_url"] == answer["response_url"]
    assert form["response_url"].startswith(f"{world.url}/sandbox/response/")

    shown = world.client.messages("incidents", ephemeral=True)
    assert [(m["text"], m["ephemeral_user"]) for m in shown] == [("Acknowledged *#7*", "U0ALICE")]
    assert world.client.messages("incidents") == []


def test_in_channel_ack_is_a_message_and_a_failed_app_tells_the_user(world) -> None:
    world.app.answers += [(200, {"response_type": "in_channel", "text": "hi all"}), (500, None)]
    bob = world.client.as_user("bob")
    bob.command("/incident help", "C0INCIDENTS")
    assert [m["text"] for m in world.client.messages("incidents")] == ["hi all"]

    with pytest.raises(SandboxError, match="dispatch_failed"):
        bob.command("/incident help", "incidents")
    shown = [m["text"] for m in world.client.messages("incidents", ephemeral=True)]
    assert '/incident failed with the error "dispatch_failed"' in shown


def test_click_sends_block_actions_for_the_newest_message_with_that_button(world) -> None:
    _bot_posts_card(world)
    newest = _bot_posts_card(world)
    answer = world.client.as_user("bob").click("incidents", "incident_acknowledge")

    (payload,) = world.app.payloads("block_actions")
    assert _verify(world, world.app.requests[0])
    assert payload["user"]["id"] == "U0BOB" and payload["user"]["username"] == "bob"
    assert payload["container"] == {
        "type": "message",
        "message_ts": newest,
        "channel_id": "C0INCIDENTS",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0INCIDENTS", "name": "incidents"}
    assert payload["message"]["ts"] == newest and payload["message"]["blocks"] == BUTTON_BLOCKS
    (action,) = payload["actions"]
    assert action["action_id"] == "incident_acknowledge" and action["value"] == "7"
    assert action["block_id"] == "incident-7" and action["type"] == "button"
    assert action["action_ts"]
    assert payload["trigger_id"] == answer["trigger_id"]
    assert payload["response_url"] == answer["response_url"]


def test_click_on_a_missing_button_is_an_error(world) -> None:
    with pytest.raises(SandboxError, match="action_not_found"):
        world.client.as_user("bob").click("incidents", "incident_acknowledge")
    assert world.app.requests == []


def test_response_url_posts_ephemeral_in_channel_replaces_and_deletes(world) -> None:
    ts = _bot_posts_card(world)
    url = world.client.as_user("carol").click("incidents", "incident_acknowledge")["response_url"]

    assert httpx.post(url, json={"text": "only carol"}).json() == {"ok": True}
    assert httpx.post(url, json={"text": "all", "response_type": "in_channel"}).status_code == 200
    shown = world.client.messages("incidents", ephemeral=True)
    assert [(m["text"], m.get("ephemeral_user")) for m in shown] == [
        ("card", None),
        ("only carol", "U0CAROL"),
        ("all", None),
    ]

    httpx.post(url, json={"replace_original": True, "text": "acked"}).raise_for_status()
    card = next(m for m in world.client.messages("incidents") if m["ts"] == ts)
    assert card["text"] == "acked" and "blocks" not in card

    httpx.post(url, json={"delete_original": "true"}).raise_for_status()
    assert ts not in [m["ts"] for m in world.client.messages("incidents")]


def test_response_url_unknown_is_404_json(world) -> None:
    response = httpx.post(f"{world.url}/sandbox/response/nope", json={"text": "x"})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "invalid_response_url"}


def test_response_url_expires_after_30_minutes_and_5_uses(engine, clock) -> None:
    for world in _world(engine, clock):
        url = world.client.as_user("alice").command("/incident", "incidents")["response_url"]
        for _ in range(5):
            assert httpx.post(url, json={"text": "x"}).status_code == 200
        used = httpx.post(url, json={"text": "x"})
        assert (used.status_code, used.json()["error"]) == (404, "used_url")

        url = world.client.as_user("alice").command("/incident", "incidents")["response_url"]
        clock.advance(timedelta(minutes=31))
        expired = httpx.post(url, json={"text": "late"})
        assert (expired.status_code, expired.json()["error"]) == (404, "expired_url")


def _open_modal(world: World, user_id: str) -> str:
    trigger = world.sandbox.issue_trigger(user_id)
    return world.client.bot().views_open(trigger_id=trigger, view=MODAL)["view"]["id"]


def test_view_submission_builds_state_values_and_keeps_the_modal_on_errors(world) -> None:
    view_id = _open_modal(world, "U0ALICE")
    alice = world.client.as_user("alice")
    world.app.answers.append((200, {"response_action": "errors", "errors": {"title": "Too vague"}}))

    answer = alice.submit_view({"title": "Spot trading errors", "severity": "sev1"})

    assert answer["response_action"] == "errors" and answer["errors"] == {"title": "Too vague"}
    (payload,) = world.app.payloads("view_submission")
    assert _verify(world, world.app.requests[0])
    assert payload["user"]["id"] == "U0ALICE" and payload["trigger_id"]
    view = payload["view"]
    assert view["id"] == view_id and view["callback_id"] == "incident_declare"
    assert view["private_metadata"] == "C0INCIDENTS"
    assert view["state"]["values"] == {
        "title": {"value": {"type": "plain_text_input", "value": "Spot trading errors"}},
        "severity": {
            "value": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "SEV1"},
                    "value": "sev1",
                },
            }
        },
    }
    assert [v["id"] for v in alice.open_views()] == [view_id]

    answer = alice.submit_view({"title": "Spot trading errors"})
    assert answer["response_action"] == "close"
    severity = world.app.payloads("view_submission")[1]["view"]["state"]["values"]["severity"]
    assert severity["value"]["selected_option"]["value"] == "sev3"
    assert alice.open_views() == []


def test_required_input_left_empty_never_reaches_the_app(world) -> None:
    _open_modal(world, "U0BOB")
    answer = world.client.as_user("bob").submit_view({"title": ""})
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"title"}
    assert world.app.requests == []


def test_submit_without_an_open_view_is_an_error(world) -> None:
    with pytest.raises(SandboxError, match="view_not_found"):
        world.client.as_user("bob").submit_view({"title": "x"})


def test_events_arrive_signed_as_event_callbacks_in_order(world) -> None:
    ts = _bot_posts_card(world)
    alice = world.client.as_user("alice")
    alice.react("incidents", ts, "pushpin")
    alice.pin("incidents", ts)
    bot = world.client.bot()
    created = bot.conversations_create(name="inc-test")["channel"]["id"]
    bot.conversations_invite(channel=created, users="U0BOB")
    alice.open_home()
    assert world.sandbox.driver.flush(5)

    envelopes = world.app.payloads("event_callback")
    kinds = [(e["event"]["type"], e["event"].get("user")) for e in envelopes]
    assert kinds == [
        ("reaction_added", "U0ALICE"),
        ("pin_added", "U0ALICE"),
        ("member_joined_channel", "U0WARROOM"),
        ("member_joined_channel", "U0BOB"),
        ("app_home_opened", "U0ALICE"),
    ]
    reaction = envelopes[0]
    assert reaction["team_id"] == "T0SANDBOX" and reaction["api_app_id"] and reaction["token"]
    assert reaction["event_id"].startswith("Ev") and isinstance(reaction["event_time"], int)
    assert reaction["event"]["item"] == {"type": "message", "channel": "C0INCIDENTS", "ts": ts}
    assert envelopes[2]["event"]["channel"] == envelopes[3]["event"]["channel"] == created
    assert envelopes[4]["event"]["tab"] == "home"
    for request in world.app.requests:
        assert request["headers"]["content-type"] == "application/json"
        assert _verify(world, request)
        assert "x-slack-retry-num" not in request["headers"]


def test_a_failed_delivery_is_retried_with_retry_headers(world) -> None:
    ts = _bot_posts_card(world)
    world.app.answers += [(500, None), (503, None)]
    world.client.as_user("alice").react("incidents", ts, "pushpin")
    assert world.sandbox.driver.flush(5)

    attempts = [r["headers"] for r in world.app.requests]
    assert [h.get("x-slack-retry-num") for h in attempts] == [None, "1", "2"]
    assert [h.get("x-slack-retry-reason") for h in attempts] == [None, "http_error", "http_error"]
    event_ids = {r["payload"]["event_id"] for r in world.app.requests}
    assert len(event_ids) == 1
    (delivery,) = world.client.deliveries()
    assert delivery["delivered"] and [a["status"] for a in delivery["attempts"]] == [500, 503, 200]


def test_a_delivery_gives_up_after_three_retries(world) -> None:
    ts = _bot_posts_card(world)
    world.app.answers += [(500, None)] * 4
    world.client.as_user("alice").react("incidents", ts, "pushpin")
    assert world.sandbox.driver.flush(5)
    assert len(world.app.requests) == 4
    assert not world.client.deliveries()[0]["delivered"]


def test_event_delivery_never_blocks_the_web_api_call(world) -> None:
    ts = _bot_posts_card(world)
    world.app.gate = threading.Event()
    started = time.monotonic()
    world.client.as_user("alice").react("incidents", ts, "pushpin")
    elapsed = time.monotonic() - started
    wait_until(lambda: world.app.requests)  # the app has it and is still busy with it
    assert elapsed < 2
    world.app.gate.set()
    assert world.sandbox.driver.flush(5)


@pytest.fixture
def bolt_world(engine: Engine) -> Iterator[World]:
    """A real Bolt AsyncApp at /slack/events, checking signatures with the sandbox's secret."""
    sandbox = Sandbox(engine)
    app = FastAPI()
    app.include_router(build_sandbox_router(sandbox, retry_delays=(0, 0, 0)), prefix="/sandbox")
    seen: list[str] = []
    holder: dict[str, Any] = {}

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        return await holder["handler"].handle(request)

    with run_app_in_thread(app) as url:
        bolt = AsyncApp(
            token=sandbox.bot_token,
            signing_secret=sandbox.signing_secret,
            client=None,
            process_before_response=False,
        )
        bolt.client.base_url = f"{url}/sandbox/api/"

        @bolt.command("/incident")
        async def command(ack, respond, body) -> None:
            await ack(text=f"working on {body['text']}")
            await respond(text="done", response_type="in_channel")

        @bolt.action("incident_acknowledge")
        async def acknowledge(ack, respond) -> None:
            await ack()
            await respond(replace_original=True, text="Acknowledged")

        @bolt.event("reaction_added")
        async def reaction(event) -> None:
            seen.append(event["reaction"])

        holder["handler"] = AsyncSlackRequestHandler(bolt)
        sandbox.events_url = f"{url}/slack/events"
        client = SandboxClient(url)
        yield World(url, sandbox, client, Recorder())
        holder["seen"] = seen
        client.close()
        sandbox.driver.close()


def test_a_bolt_app_accepts_everything_the_driver_sends(bolt_world) -> None:
    world = bolt_world
    alice = world.client.as_user("alice")
    answer = alice.command("/incident ack", "incidents")
    assert answer["response"]["text"] == "working on ack"
    wait_until(lambda: [m for m in world.client.messages("incidents") if m["text"] == "done"])

    ts = _bot_posts_card(world)
    alice.click("incidents", "incident_acknowledge", message_ts=ts)
    wait_until(
        lambda: (
            next(m for m in world.client.messages("incidents") if m["ts"] == ts)["text"]
            == "Acknowledged"
        )
    )

    alice.react("incidents", ts, "pushpin")
    assert world.sandbox.driver.flush(5)
    assert world.client.deliveries()[0]["delivered"]


def _commands(world: World) -> list[dict[str, Any]]:
    return [r["payload"] for r in world.app.requests if "command" in r["payload"]]


def test_an_unknown_command_is_refused_by_slack_and_never_reaches_the_app(world) -> None:
    """Slack's client knows the app's commands (its manifest's `slash_commands`) and answers
    any other itself, as Slackbot: "/foo is not a valid command. In Slack, all messages that
    start with the "/" character are interpreted as commands." (docs.slack.dev/
    interactivity/implementing-slash-commands)."""
    with pytest.raises(SandboxError, match="invalid_command") as caught:
        world.client.as_user("alice").command("/incidnet ack", "incidents")
    assert "/incidnet is not a valid command." in str(caught.value)
    assert _commands(world) == []
    (note,) = world.client.messages("incidents", ephemeral=True)
    assert note["user"] == "USLACKBOT" and note["ephemeral_user"] == "U0ALICE"
    assert note["text"].startswith("/incidnet is not a valid command. In Slack, all messages")


def test_a_command_needs_a_message_box_the_user_has(world) -> None:
    """A slash command is typed into the message composer (docs.slack.dev/interactivity/
    implementing-slash-commands); a public channel one is not in only shows "Join channel",
    a private channel or DM one is not in does not exist for them, an archived one has no
    composer (docs.slack.dev/reference/methods/conversations.archive)."""
    bot = world.client.bot()
    public = bot.conversations_create(name="inc-public")["channel"]["id"]
    private = bot.conversations_create(name="inc-private", is_private=True)["channel"]["id"]
    archived = bot.conversations_create(name="inc-archived")["channel"]["id"]
    bot.conversations_invite(channel=archived, users="U0ALICE")
    bot.conversations_archive(channel=archived)
    alice = world.client.as_user("alice")

    with pytest.raises(SandboxError, match="not_in_channel") as caught:
        alice.command("/incident ack", public)
    assert "You are viewing #inc-public" in str(caught.value)
    with pytest.raises(SandboxError, match="channel_not_found"):
        alice.command("/incident ack", private)
    with pytest.raises(SandboxError, match="is_archived"):
        alice.command("/incident ack", archived)
    assert _commands(world) == []

    alice.join(public)
    assert alice.command("/incident ack", public)["ok"]
    assert [form["channel_id"] for form in _commands(world)] == [public]


def test_a_command_in_a_direct_message_reaches_the_app(world) -> None:
    """Commands work in any conversation the user is in, DMs with people included, where
    the app is no member (docs.slack.dev/interactivity/implementing-slash-commands)."""
    alice = world.client.as_user("alice")
    dm = alice.web.conversations_open(users="U0BOB")["channel"]["id"]
    alice.command("/incident declare", dm)
    (form,) = _commands(world)
    assert (form["channel_id"], form["channel_name"]) == (dm, "directmessage")
    with pytest.raises(SandboxError, match="channel_not_found"):
        world.client.as_user("carol").command("/incident declare", dm)


def test_buttons_in_a_private_channel_are_only_for_its_members(world) -> None:
    bot = world.client.bot()
    private = bot.conversations_create(name="inc-secret", is_private=True)["channel"]["id"]
    bot.conversations_invite(channel=private, users="U0DAVE")
    bot.chat_postMessage(channel=private, text="card", blocks=BUTTON_BLOCKS)
    with pytest.raises(SandboxError, match="channel_not_found"):
        world.client.as_user("erin").click(private, "incident_acknowledge")
    assert world.app.payloads("block_actions") == []
    world.client.as_user("dave").click(private, "incident_acknowledge")
    assert [p["user"]["id"] for p in world.app.payloads("block_actions")] == ["U0DAVE"]

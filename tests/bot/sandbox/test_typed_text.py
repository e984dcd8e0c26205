"""Text a person types reaches the app as Slack delivers it: escaped, with mentions, channels
and links in Slack's own form; messages are stored as Slack stores them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI, Request, Response
from ruamel.yaml import YAML
from sqlalchemy import Engine

from bot.sandbox import Sandbox, build_sandbox_router
from bot.sandbox.client import SandboxClient
from bot.sandbox.driver import Driver
from tests.support.server import run_app_in_thread

ROOT = Path(__file__).parents[3]


@dataclass
class Typing:
    sandbox: Sandbox
    client: SandboxClient
    commands: list[dict[str, str]] = field(default_factory=list)

    def command_text(self, user: str, text: str, channel: str = "incidents") -> str:
        """What the app receives as `text` when `user` types `/incident <text>`."""
        self.client.as_user(user).command(f"/incident {text}", channel)
        return self.commands[-1]["text"]


def _typing(engine: Engine, *, should_escape: bool = True) -> Iterator[Typing]:
    sandbox = Sandbox(engine)
    Driver(sandbox, retry_delays=(0, 0, 0), should_escape=should_escape)
    app = FastAPI()
    app.include_router(build_sandbox_router(sandbox), prefix="/sandbox")
    commands: list[dict[str, str]] = []

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        commands.append({key: values[0] for key, values in form.items()})
        return Response(status_code=200)

    with run_app_in_thread(app) as url:
        sandbox.events_url = f"{url}/slack/events"
        client = SandboxClient(url)
        yield Typing(sandbox, client, commands)
        client.close()
        assert sandbox.driver is not None
        sandbox.driver.close()


@pytest.fixture
def typing(engine: Engine) -> Iterator[Typing]:
    yield from _typing(engine)


@pytest.fixture
def unescaped(engine: Engine) -> Iterator[Typing]:
    yield from _typing(engine, should_escape=False)


def test_command_text_arrives_with_ampersand_and_angle_brackets_escaped(typing: Typing) -> None:
    """Slack encodes `&`, `<`, `>` in all text it sends, slash commands included:
    docs.slack.dev/messaging/formatting-message-text ("Escaping text") and
    docs.slack.dev/interactivity/implementing-slash-commands."""
    text = typing.command_text("alice", "update ETA 10m & counting <soon> &amp; done")

    assert text == "update ETA 10m &amp; counting &lt;soon&gt; &amp;amp; done"


def test_with_should_escape_people_channels_and_links_arrive_in_slacks_form(
    typing: Typing,
) -> None:
    """With "Escape channels, users, and links sent to your app" (`should_escape: true`),
    a typed `@name` arrives as `<@U…|name>`, `#name` as `<#C…|name>` and links as Slack
    formats them: docs.slack.dev/interactivity/implementing-slash-commands, and for links
    docs.slack.dev/messaging/formatting-message-text ("Linking to URLs")."""
    text = typing.command_text(
        "alice",
        "role commander @bob, ask @here in #general: see https://grafana.test/d?a=1&b=2. "
        "or www.example.com, mail bob@example.com, page @sre",
    )

    assert text == (
        "role commander <@U0BOB|bob>, ask <!here> in <#C0GENERAL|general>: see "
        "<https://grafana.test/d?a=1&amp;b=2>. or <http://www.example.com|www.example.com>, "
        "mail <mailto:bob@example.com|bob@example.com>, page <!subteam^S0SREGROUP|@sre>"
    )


def test_a_name_that_matches_nobody_stays_plain_text(typing: Typing) -> None:
    """Slack only turns a name into a mention when it names someone (or some channel) in
    the workspace; anything else arrives as typed, escaped:
    docs.slack.dev/interactivity/implementing-slash-commands."""
    text = typing.command_text("alice", "role commander @nobody in #nowhere & co")

    assert text == "role commander @nobody in #nowhere &amp; co"


def test_a_private_channel_the_typist_is_not_in_is_not_linked(typing: Typing) -> None:
    """A person can only pick channels they can see, so only those become `<#C…|name>`:
    docs.slack.dev/messaging/formatting-message-text ("Linking to channels")."""
    bot = typing.client.bot()
    secret = bot.conversations_create(name="secret-war", is_private=True)["channel"]["id"]
    bot.conversations_invite(channel=secret, users="U0BOB")

    assert typing.command_text("alice", "note see #secret-war") == "note see #secret-war"
    assert typing.command_text("bob", "note see #secret-war") == (
        f"note see <#{secret}|secret-war>"
    )


def test_without_should_escape_only_the_three_characters_are_encoded(unescaped: Typing) -> None:
    """With escaping off, names arrive as typed, but `&`, `<`, `>` are still entities:
    docs.slack.dev/interactivity/implementing-slash-commands."""
    text = unescaped.command_text("alice", "role commander @bob in #general & <now>")

    assert text == "role commander @bob in #general &amp; &lt;now&gt;"


def test_warroom_manifests_ask_for_escaping_as_the_sandbox_does_by_default(engine: Engine) -> None:
    """The sandbox delivers commands the way warroom's manifests configure them."""
    for name in ("slack-app-manifest.yaml", "slack-app-manifest.socket.yaml"):
        manifest: Any = YAML(typ="safe").load((ROOT / name).read_text())
        [command] = manifest["features"]["slash_commands"]
        assert command["should_escape"] is True
    driver = Driver(Sandbox(engine))
    try:
        assert driver.should_escape is True
    finally:
        driver.close()


def test_a_message_typed_in_the_client_is_stored_as_slack_stores_it(typing: Typing) -> None:
    """Slack's client escapes what a person types and sends mentions as `<@U…>`; Slack's
    servers find links: docs.slack.dev/messaging/formatting-message-text ("Escaping
    text", "Mentioning users", "Linking to URLs")."""
    alice = typing.client.as_user("alice")

    sent = alice.type_message("incidents", "PR https://github.com/x/pull/1 fixed & deployed, @bob")

    [message] = typing.client.messages("incidents")
    assert message["ts"] == sent["ts"]
    assert message["text"] == ("PR <https://github.com/x/pull/1> fixed &amp; deployed, <@U0BOB>")


def test_a_persons_message_through_the_web_api_is_stored_escaped_with_links_found(
    typing: Typing,
) -> None:
    """Slack stores every text escaped, control sequences kept and bare links found:
    docs.slack.dev/messaging/formatting-message-text ("Escaping text", "Linking to URLs")."""
    bob = typing.client.as_user("bob")

    bob.post("incidents", "<https://github.com/x/pull/1|PR #1> fixed &amp; deployed")
    bob.post("incidents", "queue < 40k & falling, graph at https://grafana.test/d?a=1&b=2")

    texts = [m["text"] for m in typing.client.messages("incidents")]
    assert texts == [
        "<https://github.com/x/pull/1|PR #1> fixed &amp; deployed",
        "queue &lt; 40k &amp; falling, graph at <https://grafana.test/d?a=1&amp;b=2>",
    ]

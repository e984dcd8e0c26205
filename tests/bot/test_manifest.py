"""The Slack app manifests: valid, and asking for exactly the scopes the code needs."""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from ruamel.yaml import YAML
from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.commands import USAGE
from bot.sandbox.driver import APP_COMMANDS

ROOT = Path(__file__).parents[2]
MANIFESTS = {
    "http": ROOT / "slack-app-manifest.yaml",
    "socket": ROOT / "slack-app-manifest.socket.yaml",
}
EVENTS_URL = "https://warroom.example.com/slack/events"
# Slack's published schema, shipped with its source: fixtures/slack-manifest-schema/README.md.
SLACK_SCHEMA = Path(__file__).parent / "fixtures/slack-manifest-schema/manifest.schema.1.0.0.json"

# The issue's list: the scopes a team grants warroom.
ISSUE_SCOPES = {
    "channels:manage",
    "channels:read",
    "chat:write",
    "commands",
    "pins:write",
    "reactions:read",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "files:write",
    "bookmarks:write",
    "groups:write",
}
# What the code needs beyond the issue's list; each proven by METHOD_SCOPES or EVENT_SCOPES.
BEYOND_ISSUE = {
    "channels:history": "a 📌 reaction reads its message (conversations.history/replies)",
    "groups:history": "the same in private incident channels",
    "channels:join": "the bot joins WARROOM_BROADCAST_CHANNEL (conversations.join)",
    "pins:read": "the pin_added event adds pinned messages to the timeline",
    "groups:read": "a retried channel opening reads a private channel's topic (conversations.info)",
    "files:read": "an edited postmortem shared back is read (file_shared, files.info, download)",
}
# Every Web API method warroom calls -> the bot scopes it needs for how warroom calls it
# (public and private incident channels), from each method's page on api.slack.com.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postEphemeral": {"chat:write"},
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.archive": {"channels:manage", "groups:write"},
    "conversations.create": {"channels:manage", "groups:write"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.invite": {"channels:manage", "groups:write"},
    "conversations.join": {"channels:join"},
    "conversations.list": {"channels:read", "groups:read"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.setPurpose": {"channels:manage", "groups:write"},
    "conversations.setTopic": {"channels:manage", "groups:write"},
    "files.completeUploadExternal": {"files:write"},
    "files.info": {"files:read"},
    "files.getUploadURLExternal": {"files:write"},
    "pins.add": {"pins:write"},
    "usergroups.users.list": {"usergroups:read"},
    "users.conversations": {"channels:read", "groups:read"},
    "users.info": {"users:read"},
    "users.list": {"users:read"},
    "users.lookupByEmail": {"users:read.email"},
    "views.open": set(),
    "views.publish": set(),
}
EVENT_SCOPES = {
    "app_home_opened": set(),
    "file_shared": {"files:read"},
    "member_joined_channel": {"channels:read"},
    "pin_added": {"pins:read"},
    "reaction_added": {"reactions:read"},
}
# Scopes the issue grants for features that need no method call yet (channel bookmarks),
# and `commands`, which the slash command needs.
NOT_FROM_METHODS = {"bookmarks:write", "commands"}
# A method is called directly or handed on as a callable: send_fitted(client.chat_postMessage).
CLIENT_CALL = re.compile(r"\b(?:self\.)?client\.([a-z]+_[A-Za-z0-9_]+)\s*[(,)]")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@cache
def web_api_methods(client_method: str) -> frozenset[str]:
    """The Web API methods one AsyncWebClient method calls (files_upload_v2 calls two)."""
    source = inspect.getsource(getattr(AsyncWebClient, client_method))
    found = set(re.findall(r'api_call\(\s*"([^"]+)"', source))
    for inner in re.findall(r"self\.([a-z]+_[A-Za-z0-9_]+)\(", source):
        found |= web_api_methods(inner)
    return frozenset(found)


def called_methods() -> dict[str, list[str]]:
    """Every Web API method the service calls (the sandbox excluded) -> where."""
    calls: dict[str, list[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "sandbox" in path.relative_to(ROOT / "bot").parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name in CLIENT_CALL.findall(line):
                assert hasattr(AsyncWebClient, name), f"{path}:{number}: no client.{name}"
                for method in web_api_methods(name):
                    calls.setdefault(method, []).append(f"{path.relative_to(ROOT)}:{number}")
    return calls


@pytest.fixture(params=sorted(MANIFESTS), ids=str)
def manifest(request: pytest.FixtureRequest) -> tuple[str, dict]:
    return request.param, load(MANIFESTS[request.param])


def test_the_scan_finds_the_calls_it_must() -> None:
    calls = called_methods()
    for method in ("conversations.create", "chat.postMessage", "files.getUploadURLExternal"):
        assert method in calls
    assert "request" not in calls and "aclose" not in calls  # httpx clients are not Slack


def test_every_called_method_is_known_and_its_scopes_requested(manifest) -> None:
    _, data = manifest
    requested = set(data["oauth_config"]["scopes"]["bot"])
    for method, where in called_methods().items():
        assert method in METHOD_SCOPES, f"{method} (called at {where[0]}) needs a scope entry"
        missing = METHOD_SCOPES[method] - requested
        assert not missing, f"{method} (called at {where[0]}) needs {sorted(missing)}"


def test_no_scope_beyond_what_is_needed(manifest) -> None:
    _, data = manifest
    requested = data["oauth_config"]["scopes"]["bot"]
    assert len(requested) == len(set(requested))
    assert set(requested) == ISSUE_SCOPES | set(BEYOND_ISSUE)
    used = set().union(*METHOD_SCOPES.values(), *EVENT_SCOPES.values()) | NOT_FROM_METHODS
    assert set(requested) <= used, f"requested but unused: {sorted(set(requested) - used)}"
    needed_by_code = set().union(
        *(METHOD_SCOPES[m] for m in called_methods()), *EVENT_SCOPES.values()
    )
    assert set(BEYOND_ISSUE) <= needed_by_code


def test_events_command_and_interactivity(manifest) -> None:
    mode, data = manifest
    settings = data["settings"]
    events = settings["event_subscriptions"]["bot_events"]
    assert sorted(events) == sorted(EVENT_SCOPES)
    for event, scopes in EVENT_SCOPES.items():
        assert scopes <= set(data["oauth_config"]["scopes"]["bot"]), event
    assert settings["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["features"]["bot_user"]["display_name"] == "warroom"
    (command,) = data["features"]["slash_commands"]
    assert command["command"] == "/incident"
    verbs = [part.split()[0] for part in command["usage_hint"].split("|")]
    assert "declare" in verbs and "help" in verbs
    assert set(verbs) <= set(USAGE), "the usage hint names only real verbs"
    if mode == "http":
        assert settings["socket_mode_enabled"] is False
        assert command["url"] == EVENTS_URL
        assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
        assert settings["interactivity"]["request_url"] == EVENTS_URL
    else:
        assert settings["socket_mode_enabled"] is True
        text = MANIFESTS[mode].read_text()
        assert "url" not in text.replace("connections:write", "").split("settings:")[1]
        assert "url" not in command and "request_url" not in settings["interactivity"]
        assert "request_url" not in settings["event_subscriptions"]


def test_the_two_manifests_differ_only_in_transport() -> None:
    http, socket = load(MANIFESTS["http"]), load(MANIFESTS["socket"])
    assert http["oauth_config"] == socket["oauth_config"]
    assert http["display_information"] == socket["display_information"]
    assert (
        http["settings"]["event_subscriptions"]["bot_events"]
        == (socket["settings"]["event_subscriptions"]["bot_events"])
    )


def slack_validator() -> Draft7Validator:
    schema = json.loads(SLACK_SCHEMA.read_text())
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(data: dict) -> list[str]:
    errors = slack_validator().iter_errors(data)
    return sorted(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_manifest_is_valid_against_slacks_published_schema(manifest) -> None:
    """Slack's own JSON schema for app manifests (github.com/slackapi/manifest-schema),
    which Slack's app configuration checks a pasted manifest against."""
    _, data = manifest
    assert schema_errors(data) == []


def test_slacks_schema_refuses_a_broken_manifest() -> None:
    """The schema check bites: what Slack's schema refuses, it names."""
    data = load(MANIFESTS["http"])
    data["display_information"]["name"] = "w" * 36
    data["features"]["slash_commands"][0]["command"] = "incident"
    data["settings"]["interactivity"].pop("is_enabled")
    data["settings"]["colour"] = "red"
    errors = schema_errors(data)
    assert any(e.startswith("/display_information/name: ") for e in errors), errors
    assert any(e.startswith("/features/slash_commands/0/command: ") for e in errors), errors
    assert any("'is_enabled' is a required property" in e for e in errors), errors
    assert any("'colour' was unexpected" in e for e in errors), errors


def test_the_sandbox_knows_the_commands_the_manifest_registers(manifest) -> None:
    """The sandbox refuses any other command as Slack's client would (not a valid command)."""
    _, data = manifest
    registered = {c["command"] for c in data["features"]["slash_commands"]}
    assert registered == set(APP_COMMANDS)

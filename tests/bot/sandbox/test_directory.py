"""Auth, request forms, users and user groups, and the sandbox's own info."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.client import SandboxClient


def error_of(call, **kwargs) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return caught.value.response["error"]


def test_auth_test_for_bot_and_user(bot: WebClient, sandbox: SandboxClient) -> None:
    me = bot.auth_test()
    assert (me["team_id"], me["user_id"], me["bot_id"], me["user"]) == (
        "T0SANDBOX",
        "U0WARROOM",
        "B0WARROOM",
        "warroom",
    )
    alice = sandbox.as_user("alice").web.auth_test()
    assert (alice["user_id"], "bot_id" in alice) == ("U0ALICE", False)


def test_not_authed_invalid_auth_unknown_method(sandbox: SandboxClient) -> None:
    api = sandbox.api_url
    assert error_of(WebClient(base_url=api).auth_test) == "not_authed"
    assert error_of(WebClient(base_url=api, token="xoxb-forged").auth_test) == "invalid_auth"
    bot = sandbox.bot()
    assert error_of(bot.api_call, api_method="incidents.frobnicate") == "unknown_method"


def test_every_request_form_slack_accepts(sandbox: SandboxClient) -> None:
    token, url = sandbox.bot_token, sandbox.api_url + "auth.test"
    forms = {
        "query": httpx.get(url, params={"token": token}),
        "form": httpx.post(url, data={"token": token}),
        "bearer": httpx.post(url, headers={"Authorization": f"Bearer {token}"}),
        "json-bearer": httpx.post(url, json={}, headers={"Authorization": f"Bearer {token}"}),
    }
    for form, response in forms.items():
        assert response.status_code == 200, form
        assert response.json()["user_id"] == "U0WARROOM", form
        assert response.headers["x-slack-req-id"], form
    # A JSON body's token is not a credential: Slack reads it only from the header.
    in_json = httpx.post(url, json={"token": token}).json()
    assert in_json == {"ok": False, "error": "not_authed"}
    bad = httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}).json()
    assert bad["error"] == "invalid_json"


def test_users(bot: WebClient) -> None:
    alice = bot.users_info(user="U0ALICE")["user"]
    assert (alice["name"], alice["real_name"], alice["tz"]) == (
        "alice",
        "Alice Chen",
        "Asia/Hong_Kong",
    )
    assert alice["profile"]["email"] == "alice@example.com"
    assert alice["tz_offset"] == 8 * 3600
    assert error_of(bot.users_info, user="U0NOBODY") == "user_not_found"
    found = bot.users_lookupByEmail(email="Carol@Example.com")["user"]
    assert found["id"] == "U0CAROL"
    assert error_of(bot.users_lookupByEmail, email="nobody@example.com") == "users_not_found"
    first = bot.users_list(limit=4)
    rest = bot.users_list(cursor=first["response_metadata"]["next_cursor"])
    names = [u["name"] for u in first["members"] + rest["members"]]
    assert names == ["warroom", "alice", "bob", "carol", "dave", "erin"]


def test_usergroups(bot: WebClient) -> None:
    assert bot.usergroups_users_list(usergroup="S0SREGROUP")["users"] == ["U0ALICE", "U0BOB"]
    assert error_of(bot.usergroups_users_list, usergroup="S0NOPE") == "no_such_subteam"
    groups = bot.usergroups_list(include_users=True)["usergroups"]
    assert [(g["id"], g["handle"], g["users"]) for g in groups] == [
        ("S0DBAGROUP", "dba", ["U0BOB", "U0CAROL"]),
        ("S0SECURITY", "security", ["U0DAVE", "U0ERIN"]),
        ("S0SREGROUP", "sre", ["U0ALICE", "U0BOB"]),
    ]


def test_sandbox_info_describes_the_seeded_workspace(sandbox: SandboxClient) -> None:
    info = sandbox.info()
    assert info["team"] == {"id": "T0SANDBOX", "name": "warroom sandbox"}
    assert info["bot_token"].startswith("xoxb-") and info["bot"]["user_id"] == "U0WARROOM"
    assert len(info["signing_secret"]) >= 32
    users = {u["name"]: u for u in info["users"]}
    assert set(users) == {"warroom", "alice", "bob", "carol", "dave", "erin"}
    assert users["alice"]["id"] == "U0ALICE" and users["alice"]["token"].startswith("xoxp-")
    assert users["alice"]["email"] == "alice@example.com"
    channels = {c["name"]: c for c in info["channels"]}
    assert "U0WARROOM" in channels["general"]["members"]
    assert "U0WARROOM" in channels["incidents"]["members"]
    assert {g["handle"] for g in info["usergroups"]} == {"sre", "dba", "security"}


def test_added_users_get_tokens(sandbox: SandboxClient) -> None:
    frank = sandbox.add_user("frank", tz="Europe/Berlin")
    assert frank.id == "U0FRANK" and frank.token.startswith("xoxp-")
    assert sandbox.add_user("frank").id == "U0FRANK"
    assert frank.web.auth_test()["user"] == "frank"
    assert frank.join("general")["channel"]["is_member"] is True

"""Follow-ups over HTTP against the sandbox: typed in the channel, filed as GitHub issues
(respx answers as https://docs.github.com/en/rest/issues/issues#create-an-issue shows),
listed privately, closed, and shown in the postmortem draft."""

from __future__ import annotations

import json

import httpx
import respx
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.e2e.test_slack_flow import _card, _events, _incident
from tests.support.server import wait_until

API = "https://github.test/api/v3"
ISSUES = f"{API}/repos/acme/ops/issues"
GITHUB = {
    "WARROOM_GITHUB_TOKEN": "github_pat_11E2E0123456789_abcdefghijklmnopqrstuvwxyz",
    "WARROOM_GITHUB_REPO": "acme/ops",
    "WARROOM_GITHUB_API_URL": API,
}
ISSUE = {
    "id": 1012,
    "number": 12,
    "html_url": "https://github.com/acme/ops/issues/12",
    "url": "https://api.github.com/repos/acme/ops/issues/12",
    "state": "open",
    "title": "Add multi-region redundancy",
    "body": "",
    "user": {"login": "warroom-bot"},
}


def _private(service: Service, channel: str, user: str, starts: str) -> list[dict]:
    return [
        m
        for m in service.sandbox.messages(channel, ephemeral=True)
        if m.get("ephemeral_user") == user and m["text"].startswith(starts)
    ]


def _said(service: Service, channel: str, text: str) -> list[dict]:
    return [m for m in service.sandbox.messages(channel) if text in m["text"]]


def test_a_follow_up_typed_in_the_channel_becomes_a_github_issue(
    database: tuple[Engine, str],
) -> None:
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        create = mock.post(ISSUES).respond(201, json=ISSUE)
        with serving(database[1], **GITHUB) as service:
            sandbox = service.sandbox
            sandbox.rate_limits(False)
            alice = sandbox.as_user("alice")
            alice.command("/incident declare Margin calls delayed sev2", "general")
            channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
            wait_until(lambda: _card(service, channel), timeout=10)

            # Refused, privately, with nothing recorded: a past date, someone unknown.
            alice.command("/incident action Fix it due 2020-01-01", channel)
            alice.command("/incident action Fix it @nobody-here", channel)
            alice.command("/incident action done 4", channel)
            wait_until(
                lambda: (
                    len(
                        [
                            m
                            for m in sandbox.messages(channel, ephemeral=True)
                            if "ephemeral_user" in m
                        ]
                    )
                    >= 3
                ),
                timeout=10,
            )
            refusals = "\n".join(
                m["text"]
                for m in sandbox.messages(channel, ephemeral=True)
                if "ephemeral_user" in m
            )
            assert "The due date 2020-01-01 is in the past" in refusals
            assert "Nobody in this workspace is called `@nobody-here`" in refusals
            assert "has no follow-up 4: it has none yet" in refusals
            assert not any(e["kind"] == "action" for e in _events(service, 1))

            alice.command(
                "/incident action Add multi-region redundancy @bob due 2099-12-31", channel
            )
            wait_until(lambda: _said(service, channel, "Follow-up 1: Add multi-region"), 10)
            link = wait_until(lambda: _said(service, channel, ":ticket: Follow-up 1"), 15)
            assert link[0]["text"] == (
                ":ticket: Follow-up 1 is filed in GitHub: "
                "<https://github.com/acme/ops/issues/12|acme/ops#12>"
            )

            alice.command("/incident action list", channel)
            [listed] = wait_until(
                lambda: _private(service, channel, "U0ALICE", "Follow-ups of incident #1"), 10
            )
            assert listed["text"].endswith(
                "1. [open] Add multi-region redundancy — owner bob — due 2099-12-31 — "
                "ticket acme/ops#12 https://github.com/acme/ops/issues/12"
            )

            sandbox.as_user("bob").join(channel)
            sandbox.as_user("bob").command("/incident action done 1", channel)
            wait_until(lambda: _said(service, channel, "Follow-up 1 done"), 10)
            draft = httpx.get(
                f"{service.url}/api/incidents/1/postmortem", headers=service.auth
            ).text

    assert create.call_count == 1
    sent = json.loads(create.calls[0].request.content)
    assert sent["title"] == "Add multi-region redundancy"
    assert "Owner: bob" in sent["body"] and "Due: 2099-12-31" in sent["body"]
    assert (
        "| 1 | Add multi-region redundancy | bob | 2099-12-31 | done | "
        "[acme/ops#12](https://github.com/acme/ops/issues/12) |" in draft
    )

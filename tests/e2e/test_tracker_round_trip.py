"""A follow-up's whole trip through each tracker, through the running service: typed in the
channel, filed (respx answers with the tracker's documented creation shape), then closed
and reopened there, as the tracker's own documented webhook payload says, signed as it
signs it. Sources of the payloads: tests/bot/integrations/trackers/payloads/README.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.e2e.test_slack_flow import _card, _events, _incident
from tests.support.server import wait_until

PAYLOADS = Path(__file__).parents[1] / "bot" / "integrations" / "trackers" / "payloads"
SECRET = "tracker-webhook-secret-0123456789"


def _payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


def _hmac(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Trip:
    """One tracker: its settings, how it answers a creation, its webhook as it sends it."""

    name: str
    env: dict[str, str]
    key: str  # the ticket key the creation answers, and the documented payloads carry
    link: str

    def created(self, mock: respx.MockRouter) -> respx.Route:
        if self.name == "github":
            # https://docs.github.com/en/rest/issues/issues#create-an-issue (201)
            issue = {"number": 1, "html_url": self.link, "state": "open", "title": "x"}
            return mock.post(
                "https://github.test/api/v3/repos/Codertocat/Hello-World/issues"
            ).respond(201, json=issue)
        if self.name == "jira":
            # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
            body = {
                "id": "10002",
                "key": self.key,
                "self": "https://jira.test/rest/api/3/issue/10002",
            }
            return mock.post("https://jira.test/rest/api/3/issue").respond(201, json=body)
        # https://linear.app/developers/graphql: issueCreate answers its payload under data
        issue = {
            "id": "539068e2-ae88-4d09-bd75-22eb4a59612f",
            "identifier": self.key,
            "url": self.link,
        }
        answer = {"data": {"issueCreate": {"success": True, "issue": issue}}}
        return mock.post("https://linear.test/graphql").respond(200, json=answer)

    def webhook(self, state: str) -> tuple[str, bytes, dict[str, str]]:
        """The path, body and headers of the tracker's webhook saying the ticket is `state`."""
        if self.name == "github":
            payload = _payload(f"github_issues_{'closed' if state == 'done' else 'reopened'}.json")
            body = json.dumps(payload).encode()
            headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": f"sha256={_hmac(body)}"}
            return "/webhooks/github", body, headers
        if self.name == "jira":
            payload = _payload(f"jira_issue_{'resolved' if state == 'done' else 'reopened'}.json")
            body = json.dumps(payload).encode()
            return "/webhooks/jira", body, {"X-Hub-Signature": f"sha256={_hmac(body)}"}
        payload = _payload(f"linear_issue_{'completed' if state == 'done' else 'reopened'}.json")
        payload["webhookTimestamp"] = int(time.time() * 1000)  # Linear refuses a stale one
        body = json.dumps(payload).encode()
        return "/webhooks/linear", body, {"Linear-Signature": _hmac(body)}


TRIPS = [
    Trip(
        "github",
        {
            "WARROOM_GITHUB_TOKEN": "github_pat_11E2E0123456789_abcdefghijklmnop",
            "WARROOM_GITHUB_REPO": "Codertocat/Hello-World",
            "WARROOM_GITHUB_API_URL": "https://github.test/api/v3",
            "WARROOM_GITHUB_WEBHOOK_SECRET": SECRET,
        },
        "Codertocat/Hello-World#1",
        "https://github.com/Codertocat/Hello-World/issues/1",
    ),
    Trip(
        "jira",
        {
            "WARROOM_JIRA_URL": "https://jira.test",
            "WARROOM_JIRA_EMAIL": "warroom@acme.example",
            "WARROOM_JIRA_TOKEN": "ATATT3xFfGF0-jira-token-0123456789",
            "WARROOM_JIRA_PROJECT": "JRA",
            "WARROOM_JIRA_WEBHOOK_SECRET": SECRET,
        },
        "JRA-20002",
        "https://jira.test/browse/JRA-20002",
    ),
    Trip(
        "linear",
        {
            "WARROOM_LINEAR_API_KEY": "lin_api_0123456789abcdefghijklmnopqrstuv",
            "WARROOM_LINEAR_TEAM": "72b2a2dc-6f4f-4423-9d34-24b5bd10634a",
            "WARROOM_LINEAR_API_URL": "https://linear.test/graphql",
            "WARROOM_LINEAR_WEBHOOK_SECRET": SECRET,
        },
        "ENG-42",
        "https://linear.app/acme/issue/ENG-42/add-a-second-region",
    ),
]


def _said(service: Service, channel: str, text: str) -> list[dict]:
    return [m for m in service.sandbox.messages(channel) if text in m["text"]]


@pytest.mark.parametrize("trip", TRIPS, ids=[trip.name for trip in TRIPS])
def test_a_follow_up_filed_in_the_tracker_comes_back_done_when_closed_there(
    database: tuple[Engine, str], trip: Trip
) -> None:
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        create = trip.created(mock)
        with serving(database[1], **trip.env) as service:
            service.sandbox.rate_limits(False)
            alice = service.sandbox.as_user("alice")
            alice.command("/incident declare Margin calls delayed sev2", "general")
            channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
            wait_until(lambda: _card(service, channel), timeout=10)
            alice.command("/incident action Add a second region due 2099-12-31", channel)
            wait_until(lambda: _said(service, channel, ":ticket: Follow-up 1"), 15)

            path, body, headers = trip.webhook("done")
            answer = httpx.post(f"{service.url}{path}", content=body, headers=headers)
            assert (answer.status_code, answer.json()) == (202, {"applied": 1})
            [closed] = wait_until(lambda: _said(service, channel, "Follow-up 1 done:"), 10)
            forged = httpx.post(
                f"{service.url}{path}", content=body, headers={**headers, **_bad(headers)}
            )
            assert forged.status_code == 401 and "error" in forged.json()

            path, body, headers = trip.webhook("open")
            answer = httpx.post(f"{service.url}{path}", content=body, headers=headers)
            assert (answer.status_code, answer.json()) == (202, {"applied": 1})
            [reopened] = wait_until(
                lambda: _said(service, channel, "Follow-up 1 is open again:"), 10
            )
            kinds = [event["kind"] for event in _events(service, 1)]

    assert create.call_count == 1
    assert "action_done" in kinds and "action_reopened" in kinds
    assert f"{trip.key} was closed in" in closed["text"]
    assert f"{trip.key} was reopened in" in reopened["text"]


def _bad(headers: dict[str, str]) -> dict[str, str]:
    """The same headers with every signature changed."""
    return {
        name: value[:-4] + "0000" for name, value in headers.items() if "signature" in name.lower()
    }

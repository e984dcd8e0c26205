"""Linear: a follow-up filed as an issue of a team, found again by its marker, and Linear's
own ways of failing (errors in a 200, a rate limit in a 400) sorted into retry or give up.

Shapes from Linear's developer documentation:
- GraphQL API, authentication, issueCreate and errors: https://linear.app/developers/graphql
- filtering (`issues(filter: ...)`, `contains`): https://linear.app/developers/filtering
- rate limiting (HTTP 400, `extensions.code` RATELIMITED, X-RateLimit-* headers in epoch
  ms): https://linear.app/developers/rate-limiting
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from bot.integrations.trackers.base import Ticket
from bot.integrations.trackers.linear import LinearTracker
from bot.outbox.errors import GiveUp, RetryLater
from tests.bot.integrations.trackers.conftest import Scene

API = "https://api.linear.app/graphql"
KEY = "lin_api_0123456789abcdefghijklmnopqrstuvwxyzABCD"
TEAM_ID = "72b2a2dc-6f4f-4423-9d34-24b5bd10634a"
ISSUE_URL = "https://linear.app/acme/issue/ENG-42/add-a-second-region"


def _linear(scene: Scene, team: str = "ENG") -> LinearTracker:
    return LinearTracker(scene.client, scene.journal, api_key=KEY, team=team, api_url=API)


def _sent(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def _teams(*nodes: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, json={"data": {"teams": {"nodes": list(nodes)}}})


def _created(identifier: str = "ENG-42", url: str = ISSUE_URL) -> httpx.Response:
    issue = {"id": "539068e2-ae88-4d09-bd75-22eb4a59612f", "identifier": identifier, "url": url}
    return httpx.Response(200, json={"data": {"issueCreate": {"success": True, "issue": issue}}})


Answer = Callable[[dict[str, Any]], httpx.Response]


def _graphql(mock: respx.MockRouter, **answers: Answer) -> respx.Route:
    """One route for the endpoint; each operation answered by the name of its root field."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = _sent(request)["query"]
        for field, respond in answers.items():
            if f"{field}(" in query:
                return respond(_sent(request)["variables"])
        raise AssertionError(f"unexpected operation: {query}")

    return mock.post(API).mock(side_effect=answer)


async def test_create_resolves_the_team_key_once_and_files_the_issue(scene: Scene) -> None:
    linear = _linear(scene)
    with respx.mock(assert_all_mocked=True) as mock:
        route = _graphql(
            mock,
            teams=lambda _: _teams({"id": TEAM_ID, "key": "ENG"}),
            issueCreate=lambda _: _created(),
        )
        first = await linear.create(scene.draft())
        await linear.create(scene.draft(number=3))

    assert first == Ticket(tracker="linear", key="ENG-42", url=ISSUE_URL)
    sent = [_sent(call.request) for call in route.calls]
    assert ["teams(" in s["query"] for s in sent] == [True, False, False]  # cached
    assert sent[0]["variables"] == {"key": "ENG"}
    assert sent[1]["variables"] == {
        "input": {
            "teamId": TEAM_ID,
            "title": "Add a second region for the matching engine's dependency",
            "description": (
                "Add a second region for the matching engine's dependency\n\n"
                f"From incident #{scene.incident_id}: Matching engine down (sev1)\n"
                "Owner: Alice\n"
                "Due: 2021-03-17\n\n"
                f"warroom: warroom-{scene.incident_id}-action-2"
            ),
            "dueDate": "2021-03-17",
        }
    }
    # A personal API key goes bare in Authorization, as the authentication section shows.
    assert route.calls[1].request.headers["Authorization"] == KEY
    assert scene.timeline() == []


async def test_a_team_given_by_id_needs_no_lookup(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        route = _graphql(mock, issueCreate=lambda _: _created())
        await _linear(scene, team=TEAM_ID).create(scene.draft(due=None))
    [call] = route.calls
    assert _sent(call.request)["variables"]["input"]["teamId"] == TEAM_ID
    assert "dueDate" not in _sent(call.request)["variables"]["input"]


async def test_an_unknown_team_key_gives_up_and_says_which(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        _graphql(mock, teams=lambda _: _teams())
        with pytest.raises(GiveUp):
            await _linear(scene, team="NOPE").create(scene.draft())
    assert [text for text, _ in scene.timeline()] == [
        "Linear team lookup refused (no team with the key 'NOPE')"
    ]


async def test_a_retried_creation_adopts_the_issue_a_lost_answer_made(scene: Scene) -> None:
    draft = scene.draft()
    linear = _linear(scene, team=TEAM_ID)
    marker = f"warroom-{scene.incident_id}-action-2"

    def issues(variables: dict[str, Any]) -> httpx.Response:
        assert variables == {"teamId": TEAM_ID, "marker": marker, "first": 10}
        nodes = [
            # `contains` finds "-action-20" too: not ours.
            {
                "identifier": "ENG-50",
                "url": "https://linear.app/acme/issue/ENG-50/x",
                "description": f"Other\n\nwarroom: {marker}0",
            },
            {"identifier": "ENG-42", "url": ISSUE_URL, "description": f"Ours\n\nwarroom: {marker}"},
        ]
        return httpx.Response(200, json={"data": {"issues": {"nodes": nodes}}})

    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(API).mock(side_effect=httpx.ReadTimeout("no answer"))
        with pytest.raises(RetryLater):
            await linear.create(draft)
        mock.routes.clear()
        _graphql(mock, issues=issues)
        found = await linear.find(draft)

    assert found == Ticket(tracker="linear", key="ENG-42", url=ISSUE_URL)
    assert [text for text, _ in scene.timeline()] == [
        "Linear ticket creation failed (timeout), retrying"
    ]


async def test_find_answers_none_when_no_issue_carries_the_marker(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        _graphql(
            mock, issues=lambda _: httpx.Response(200, json={"data": {"issues": {"nodes": []}}})
        )
        assert await _linear(scene, team=TEAM_ID).find(scene.draft()) is None


async def test_ratelimited_in_a_400_is_retried_when_the_spent_budget_resets(
    scene: Scene,
) -> None:
    reset_ms = int((scene.harness.clock.now() + timedelta(seconds=45)).timestamp() * 1000)
    later_ms = reset_ms + 600_000
    limited = httpx.Response(
        400,
        headers={
            "X-RateLimit-Requests-Limit": "5000",
            "X-RateLimit-Requests-Remaining": "0",
            "X-RateLimit-Requests-Reset": str(reset_ms),
            "X-RateLimit-Complexity-Limit": "3000000",
            "X-RateLimit-Complexity-Remaining": "2999940",
            "X-RateLimit-Complexity-Reset": str(later_ms),
        },
        json={
            "errors": [
                {
                    "message": "Rate limit exceeded",
                    "extensions": {
                        "code": "RATELIMITED",
                        "statusCode": 429,
                        "userPresentableMessage": "Too many requests, try again later.",
                    },
                }
            ]
        },
    )
    with respx.mock(assert_all_mocked=True) as mock:
        _graphql(mock, issueCreate=lambda _: limited)
        with pytest.raises(RetryLater) as later:
            await _linear(scene, team=TEAM_ID).create(scene.draft())

    assert later.value.delay_seconds == pytest.approx(45, abs=0.01)
    [(text, data)] = scene.timeline()
    assert text == "Linear ticket creation rate limited (HTTP 400, RATELIMITED), retrying in 45s"
    assert data["retry"] is True and data["integration"] == "linear"


async def test_a_429_with_retry_after_is_retried_after_it(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(API).respond(429, headers={"Retry-After": "20"}, text="Too Many Requests")
        with pytest.raises(RetryLater) as later:
            await _linear(scene, team=TEAM_ID).create(scene.draft())
    assert later.value.delay_seconds == 20
    assert [text for text, _ in scene.timeline()] == [
        "Linear ticket creation rate limited (HTTP 429), retrying in 20s"
    ]


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        # What Linear answers a bad key with: a 400 and AUTHENTICATION_ERROR.
        (
            400,
            {
                "message": "Authentication required, not authenticated",
                "extensions": {
                    "code": "AUTHENTICATION_ERROR",
                    "type": "authentication error",
                    "userPresentableMessage": "You need to authenticate to access this operation.",
                },
            },
            "HTTP 400, AUTHENTICATION_ERROR",
        ),
        # A GraphQL error in a 200: the input refused.
        (
            200,
            {
                "message": "Argument Validation Error",
                "path": ["issueCreate"],
                "extensions": {
                    "code": "INVALID_INPUT",
                    "type": "invalid input",
                    "userError": True,
                    "userPresentableMessage": "teamId must be a UUID.",
                },
            },
            "HTTP 200, INVALID_INPUT",
        ),
        # A 200 with a forbidden error: the key cannot write to the team.
        (
            200,
            {
                "message": "Forbidden",
                "extensions": {"code": "FORBIDDEN", "type": "forbidden", "userError": True},
            },
            "HTTP 200, FORBIDDEN",
        ),
    ],
    ids=["400-authentication", "200-invalid-input", "200-forbidden"],
)
async def test_an_error_linear_will_repeat_gives_up(
    scene: Scene, status: int, error: dict[str, Any], shown: str
) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(API).respond(status, json={"errors": [error], "data": None})
        with pytest.raises(GiveUp) as refused:
            await _linear(scene, team=TEAM_ID).create(scene.draft())

    assert refused.value.reason == f"Linear ticket creation refused ({shown})"
    [(text, data)] = scene.timeline()
    assert text == f"Linear ticket creation refused ({shown})"
    assert data["retry"] is False
    assert error["message"] not in text  # Linear's words go to the log only


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            200,
            json={
                "errors": [
                    {
                        "message": "Internal server error",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR", "type": "internal error"},
                    }
                ],
                "data": None,
            },
        ),
        httpx.Response(503, text="upstream connect error"),
    ],
    ids=["200-internal-error", "503"],
)
async def test_a_server_side_failure_is_retried(scene: Scene, answer: httpx.Response) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(API).mock(return_value=answer)
        with pytest.raises(RetryLater) as later:
            await _linear(scene, team=TEAM_ID).find(scene.draft())
    assert later.value.delay_seconds is None
    [(text, data)] = scene.timeline()
    assert text.startswith("Linear ticket lookup failed (") and text.endswith("), retrying")
    assert data["retry"] is True


async def test_an_unsuccessful_issue_create_gives_up(scene: Scene) -> None:
    failed = {"data": {"issueCreate": {"success": False, "issue": None}}}
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(API).respond(200, json=failed)
        with pytest.raises(GiveUp):
            await _linear(scene, team=TEAM_ID).create(scene.draft())
    assert [text for text, _ in scene.timeline()] == [
        "Linear ticket creation refused (an answer without the created issue)"
    ]

"""Jira Cloud: a follow-up filed as a Task, found again by its marker, every failure sorted.

Shapes from Jira Cloud's REST v3 reference:
- create: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
- search: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-post
- rate limits (429 + Retry-After): https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

from bot.integrations.trackers.base import Ticket
from bot.integrations.trackers.jira import JiraTracker
from bot.outbox.errors import GiveUp, RetryLater
from tests.bot.integrations.trackers.conftest import Scene

SITE = "https://acme.atlassian.net"
CREATE = f"{SITE}/rest/api/3/issue"
SEARCH = f"{SITE}/rest/api/3/search/jql"
EMAIL = "warroom@acme.example"
TOKEN = "ATATT3xFfGF0-jira-token-0123456789"


def _jira(scene: Scene, url: str = SITE + "/") -> JiraTracker:
    return JiraTracker(
        scene.client, scene.journal, url=url, email=EMAIL, token=TOKEN, project="OPS"
    )


def _created(key: str = "OPS-7", issue_id: str = "10000") -> dict[str, Any]:
    # The documented 201 body.
    return {
        "id": issue_id,
        "key": key,
        "self": f"{SITE}/rest/api/3/issue/{issue_id}",
        "transition": {"status": 200, "errorCollection": {"errorMessages": [], "errors": {}}},
    }


def _doc(*lines: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in lines
        ],
    }


def _found(*issues: tuple[str, str]) -> dict[str, Any]:
    # The documented answer of the enhanced search: issues with the fields asked for.
    return {
        "isLast": True,
        "issues": [
            {
                "expand": "",
                "id": str(10000 + n),
                "key": key,
                "self": f"{SITE}/rest/api/3/issue/{10000 + n}",
                "fields": {"summary": "A follow-up", "description": _doc("Do it", marker)},
            }
            for n, (key, marker) in enumerate(issues)
        ],
    }


async def test_create_files_a_task_with_the_follow_up_and_its_marker(scene: Scene) -> None:
    draft = scene.draft()
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(CREATE).respond(201, json=_created())
        ticket = await _jira(scene).create(draft)

    assert ticket == Ticket(tracker="jira", key="OPS-7", url=f"{SITE}/browse/OPS-7")
    request = route.calls.last.request
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "fields": {
            "project": {"key": "OPS"},
            "issuetype": {"name": "Task"},
            "summary": "Add a second region for the matching engine's dependency",
            "duedate": "2021-03-17",
            "description": _doc(
                "Add a second region for the matching engine's dependency",
                f"From incident #{scene.incident_id}: Matching engine down (sev1)",
                "Owner: Alice",
                "Due: 2021-03-17",
                f"warroom: warroom-{scene.incident_id}-action-2",
            ),
        }
    }
    assert scene.timeline() == []  # the follow-up core records the success, not the tracker


async def test_a_follow_up_without_a_due_date_sends_no_duedate(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(CREATE).respond(201, json=_created())
        await _jira(scene).create(scene.draft(due=None, title="Rotate\nthe keys"))
    fields = json.loads(route.calls.last.request.content)["fields"]
    assert "duedate" not in fields
    assert fields["summary"] == "Rotate the keys"


async def test_a_retried_creation_adopts_the_task_a_lost_answer_made(scene: Scene) -> None:
    draft = scene.draft()
    jira = _jira(scene)
    with respx.mock(assert_all_mocked=True) as mock:
        # Jira made OPS-7, but its answer never arrived.
        create = mock.post(CREATE).mock(side_effect=httpx.ReadTimeout("no answer"))
        with pytest.raises(RetryLater):
            await jira.create(draft)
        # The retry looks first; "-action-20" of the same incident is not ours.
        search = mock.post(SEARCH).respond(
            200,
            json=_found(
                ("OPS-9", f"warroom: warroom-{scene.incident_id}-action-20"),
                ("OPS-7", f"warroom: warroom-{scene.incident_id}-action-2"),
            ),
        )
        found = await jira.find(draft)

    assert found == Ticket(tracker="jira", key="OPS-7", url=f"{SITE}/browse/OPS-7")
    assert create.call_count == 1
    asked = json.loads(search.calls.last.request.content)
    assert asked == {
        "jql": f'project = "OPS" AND description ~ "\\"warroom-{scene.incident_id}-action-2\\""',
        "fields": ["summary", "description"],
        "maxResults": 10,
    }
    assert [text for text, _ in scene.timeline()] == [
        "Jira ticket creation failed (timeout), retrying"
    ]


async def test_find_answers_none_when_no_task_carries_the_marker(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(SEARCH).respond(200, json={"isLast": True, "issues": []})
        assert await _jira(scene).find(scene.draft()) is None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # The documented error bodies of the create operation.
        (
            400,
            {
                "errorMessages": [],
                "errors": {"issuetype": "The issue type selected is invalid."},
            },
        ),
        (401, {"errorMessages": ["Client must be authenticated to access this resource."]}),
        (403, {"errorMessages": ["You do not have permission to create issues in this project."]}),
        (404, {"errorMessages": ["No project could be found with key 'OPS'."]}),
    ],
    ids=["400-bad-field", "401-bad-token", "403-no-permission", "404-no-project"],
)
async def test_a_refused_creation_gives_up_and_says_so_on_the_timeline(
    scene: Scene, status: int, body: dict[str, Any]
) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(CREATE).respond(status, json=body)
        with pytest.raises(GiveUp) as refused:
            await _jira(scene).create(scene.draft())

    assert refused.value.reason == f"Jira ticket creation refused (HTTP {status})"
    [(text, data)] = scene.timeline()
    assert text == f"Jira ticket creation refused (HTTP {status})"
    assert data["ok"] is False and data["retry"] is False
    assert data["integration"] == "jira" and data["follow_up"] == 2
    # Jira's own words (which may echo a field or an e-mail) stay in the log.
    assert "permission" not in text and "OPS'" not in text


async def test_a_rate_limit_is_retried_after_the_time_jira_asks(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(CREATE).respond(
            429, headers={"Retry-After": "30"}, json={"errorMessages": ["Rate limit exceeded."]}
        )
        with pytest.raises(RetryLater) as later:
            await _jira(scene).create(scene.draft())

    assert later.value.delay_seconds == 30
    [(text, data)] = scene.timeline()
    assert text == "Jira ticket creation rate limited (HTTP 429), retrying in 30s"
    assert data["retry"] is True


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_retried_with_the_usual_backoff(scene: Scene, status: int) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(SEARCH).respond(status, text="Service Unavailable")
        with pytest.raises(RetryLater) as later:
            await _jira(scene).find(scene.draft())

    assert later.value.delay_seconds is None
    assert [text for text, _ in scene.timeline()] == [
        f"Jira ticket lookup failed (HTTP {status}), retrying"
    ]


async def test_a_2xx_without_the_documented_key_gives_up(scene: Scene) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post(CREATE).respond(201, json={"id": "10000"})
        with pytest.raises(GiveUp):
            await _jira(scene).create(scene.draft())
    assert [text for text, _ in scene.timeline()] == [
        "Jira ticket creation failed (an answer without the documented fields)"
    ]

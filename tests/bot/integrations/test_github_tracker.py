"""GitHub Issues: each follow-up filed once as an issue, its link told in the channel.

Requests and answers follow GitHub's REST API documentation:
- creating an issue, its 201 answer and its 403/404/410/422 errors:
  https://docs.github.com/en/rest/issues/issues#create-an-issue
- listing a repository's issues (how a retried creation finds what it made):
  https://docs.github.com/en/rest/issues/issues#list-repository-issues
- rate limits (403 or 429; `x-ratelimit-remaining: 0` and `x-ratelimit-reset`, or
  `retry-after` for a secondary limit):
  https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import respx

from bot.composition.config import Settings
from bot.composition.trackers import tracker_routes
from bot.incidents import effects
from bot.integrations.http import make_client
from bot.integrations.journal import Journal
from storage import followups
from tests.bot.integrations.conftest import Build, Harness

TOKEN = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
REPO = "acme/ops"
API = "https://github.test/api/v3"
ISSUES = f"{API}/repos/{REPO}/issues"
GITHUB = {
    "WARROOM_GITHUB_TOKEN": TOKEN,
    "WARROOM_GITHUB_REPO": REPO,
    "WARROOM_GITHUB_API_URL": API,
}


def issue(number: int, body: str, title: str = "Add multi-region redundancy") -> dict:
    """An issue as GitHub answers it (the documented example, trimmed to what we read and a
    few neighbours)."""
    return {
        "id": 1000 + number,
        "node_id": "MDU6SXNzdWUx",
        "url": f"https://api.github.com/repos/{REPO}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{REPO}",
        "html_url": f"https://github.com/{REPO}/issues/{number}",
        "number": number,
        "state": "open",
        "title": title,
        "body": body,
        "user": {"login": "warroom-bot", "id": 1, "type": "Bot"},
        "labels": [],
        "assignee": None,
        "comments": 0,
        "created_at": "2021-03-10T10:20:00Z",
        "updated_at": "2021-03-10T10:20:00Z",
        "closed_at": None,
    }


@pytest.fixture
async def github(harness: Build) -> AsyncIterator[Harness]:
    """The harness with GitHub Issues as the tracker, routed as the composition root does."""
    h = harness(**GITHUB)
    h.domain.tracker = "github"
    settings = Settings(_env_file=None, **GITHUB)  # type: ignore[call-arg]
    async with make_client() as client:
        journal = Journal(h.sessions, h.clock)
        h.dispatcher.routes.update(tracker_routes(settings, client, journal))
        yield h


def _followup(h: Harness, incident_id: int, number: int = 1):
    with h.sessions() as session:
        row = followups.followup(session=session, incident_id=incident_id, number=number)
        assert row is not None
        return row


def _ops(h: Harness, incident_id: int) -> list:
    return h.ops(incident_id, effects.CREATE_TICKET)


def _told(h: Harness, incident_id: int) -> list[dict]:
    """What the channel was told, less the opening's word that nobody was paged."""
    notices = [op.payload["notice"] for op in h.ops(incident_id, effects.POST_NOTICE)]
    return [notice for notice in notices if notice["name"] != "paged"]


async def test_a_follow_up_becomes_an_issue_and_its_link_is_told(github: Harness) -> None:
    h = github
    incident_id = h.declare("declare Matching engine down sev1")
    h.run("action Add multi-region redundancy <@U0BOB> due 2021-04-01", incident_id)
    created = issue(12, "")
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(ISSUES).respond(201, json=created)
        await h.dispatcher.drain()

    assert create.call_count == 1
    request = create.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    sent = json.loads(request.content)
    assert sent["title"] == "Add multi-region redundancy"
    body = sent["body"]
    assert body.startswith("Add multi-region redundancy\n\nFollow-up 1 of warroom incident #")
    assert "Matching engine down (sev1)" in body
    assert "Owner: U0BOB" in body and "Due: 2021-04-01" in body
    assert body.endswith(f"<!-- warroom-{incident_id}-action-1 -->")

    row = _followup(h, incident_id)
    assert (row.tracker, row.ticket_key, row.ticket_url) == (
        "github",
        "acme/ops#12",
        "https://github.com/acme/ops/issues/12",
    )
    [op] = _ops(h, incident_id)
    assert op.state == "done"
    assert _told(h, incident_id) == [
        {
            "name": "ticket_filed",
            "number": 1,
            "tracker": "github",
            "key": "acme/ops#12",
            "url": "https://github.com/acme/ops/issues/12",
        }
    ]
    assert [e.text for e in h.timeline(incident_id)] == ["Follow-up 1 filed as acme/ops#12"]


async def test_a_creation_whose_answer_was_lost_adopts_the_issue_it_made(github: Harness) -> None:
    h = github
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    marker = f"warroom-{incident_id}-action-1"
    with respx.mock(assert_all_mocked=True) as mock:
        # GitHub made the issue, but its answer never arrived.
        create = mock.post(ISSUES).mock(side_effect=httpx.ReadTimeout("no answer"))
        await h.dispatcher.run_once()
        listed = mock.get(ISSUES).respond(
            200,
            json=[
                issue(15, "Someone else's issue"),
                # Another follow-up's marker that merely starts like ours.
                issue(14, f"x\n\n<!-- {marker}0 -->"),
                issue(13, f"Add multi-region redundancy\n\n<!-- {marker} -->"),
            ],
        )
        h.clock.advance(timedelta(minutes=1))
        await h.dispatcher.drain()

    assert (create.call_count, listed.call_count) == (1, 1)
    params = listed.calls[0].request.url.params
    assert (params["state"], params["sort"], params["direction"]) == ("all", "created", "desc")
    assert _followup(h, incident_id).ticket_key == "acme/ops#13"
    [op] = _ops(h, incident_id)
    assert (op.state, op.result) == (
        "done",
        {"tracker": "github", "key": "acme/ops#13", "url": "https://github.com/acme/ops/issues/13"},
    )


async def test_a_lost_answer_with_no_issue_made_creates_it_once(github: Harness) -> None:
    h = github
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(ISSUES).mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=issue(20, ""))]
        )
        mock.get(ISSUES).respond(200, json=[issue(19, "unrelated")])
        await h.dispatcher.run_once()
        h.clock.advance(timedelta(minutes=1))
        await h.dispatcher.drain()
    assert create.call_count == 2
    assert _followup(h, incident_id).ticket_key == "acme/ops#20"


@pytest.mark.parametrize(
    ("status", "headers", "message", "wait"),
    [
        # Primary limit: 403 with nothing remaining; wait until the reset.
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "RESET"}, "API rate limit", None),
        # Secondary limit: 429 (or 403) with retry-after.
        (429, {"retry-after": "30"}, "You have exceeded a secondary rate limit.", 30),
        (403, {"retry-after": "45"}, "You have exceeded a secondary rate limit.", 45),
        # A secondary limit that names no time: a minute, as GitHub advises.
        (403, {}, "You have exceeded a secondary rate limit.", 60),
    ],
    ids=["403-reset", "429-retry-after", "403-retry-after", "403-no-time"],
)
async def test_rate_limits_wait_as_github_asks_then_file_once(
    github: Harness, status: int, headers: dict[str, str], message: str, wait: int | None
) -> None:
    h = github
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    headers = {k: str(int(time.time()) + 120) if v == "RESET" else v for k, v in headers.items()}
    limited = httpx.Response(
        status,
        headers=headers,
        json={
            "message": message,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
    )
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(ISSUES).mock(
            side_effect=[limited, httpx.Response(201, json=issue(7, ""))]
        )
        await h.dispatcher.run_once()
        [op] = _ops(h, incident_id)
        delay = (h.next_attempt(op.id) - h.clock.now()).total_seconds()
        if wait is None:
            assert 100 <= delay <= 121  # until x-ratelimit-reset, two minutes away
        else:
            assert delay == wait
        [entry] = h.timeline(incident_id)
        assert entry.text.startswith(f"GitHub issue creation rate limited (HTTP {status})")
        # The retry is resumed, so it looks first: nothing of ours was made.
        mock.get(ISSUES).respond(200, json=[])
        h.clock.advance(timedelta(seconds=delay + 1))
        await h.dispatcher.drain()
    assert create.call_count == 2
    assert _followup(h, incident_id).ticket_key == "acme/ops#7"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "Not Found"),
        (410, "Issues are disabled for this repo"),
        (422, "Validation Failed"),
        (403, "Resource not accessible by personal access token"),
    ],
)
async def test_refusals_fail_the_filing_for_good_and_say_so(
    github: Harness, status: int, message: str
) -> None:
    h = github
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(ISSUES).respond(
            status,
            json={
                "message": message,
                "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
            },
        )
        await h.dispatcher.drain()
    assert create.call_count == 1
    [op] = _ops(h, incident_id)
    assert op.state == "failed"
    [failed] = h.timeline(incident_id, "delivery_failed")
    assert failed.text == f"GitHub issue creation refused (HTTP {status})"
    assert _followup(h, incident_id).ticket_key is None
    told = _told(h, incident_id)
    assert [n["name"] for n in told] == ["delivery_failed"]
    assert TOKEN not in json.dumps(told)


async def test_without_a_tracker_no_ticket_is_queued(harness: Build) -> None:
    h = harness()
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    assert _ops(h, incident_id) == []
    assert _followup(h, incident_id).status == "open"


async def test_a_follow_up_dropped_before_filing_is_not_filed(github: Harness) -> None:
    h = github
    incident_id = h.declare()
    h.run("action Add multi-region redundancy", incident_id)
    h.run("action drop 1 covered by the platform team's plan", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        await h.dispatcher.drain()
    assert not mock.calls
    [op] = _ops(h, incident_id)
    assert op.result == {"skipped": "follow-up 1 was dropped before filing"}


async def test_a_private_incident_s_issue_never_names_it(github: Harness) -> None:
    h = github
    incident_id = h.run("declare Payroll export leaked sev1 --private")
    h.run("action Rotate the export credentials", incident_id)
    with respx.mock(assert_all_mocked=True) as mock:
        create = mock.post(ISSUES).respond(201, json=issue(30, ""))
        await h.dispatcher.drain()
    body = json.loads(create.calls[0].request.content)["body"]
    assert f"Follow-up 1 of warroom a private incident (#{incident_id})." in body
    assert "Payroll" not in body and "slack.com" not in body

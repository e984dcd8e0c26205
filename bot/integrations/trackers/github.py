"""GitHub Issues as the ticket tracker: each follow-up an issue in one repository.

Requests follow GitHub's REST API (https://docs.github.com/en/rest/issues/issues), with a
fine-grained token allowed to write the repository's issues. GitHub takes no idempotency
key, so each issue carries the draft's marker in an HTML comment of its body, and a
retried creation looks for it first among the repository's newest issues.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bot.integrations.calls import as_error, attempt, failure_text
from bot.integrations.http import MAX_RETRY_AFTER, Verdict, retry_after
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import Ticket, TicketDraft
from bot.outbox.errors import GiveUp

NAME = "github"
API_VERSION = "2022-11-28"
# A lost creation is among the newest issues: a retry comes minutes, not weeks, later.
# The issue list, unlike search, shows an issue as soon as it is made.
LOOK_BACK = 100
# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
SECONDARY_WAIT = 60.0


class GitHubTracker:
    """Files follow-ups as issues of `repo` ("owner/name")."""

    name = NAME

    def __init__(
        self,
        client: httpx.AsyncClient,
        journal: Journal,
        *,
        token: str,
        repo: str,
        api_url: str = "https://api.github.com",
    ) -> None:
        self.client = client
        self.journal = journal
        self.repo = repo
        self.issues_url = f"{api_url.rstrip('/')}/repos/{repo}/issues"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    async def find(self, draft: TicketDraft) -> Ticket | None:
        """The issue an earlier creation of this draft made, by its marker, if any."""
        response = await self._call(
            draft,
            "GitHub issue lookup",
            "GET",
            self.issues_url,
            params={
                "state": "all",
                "sort": "created",
                "direction": "desc",
                "per_page": str(LOOK_BACK),
            },
        )
        try:
            listed = response.json()
        except ValueError:
            return None
        for issue in listed if isinstance(listed, list) else []:
            if isinstance(issue, dict) and marked(str(issue.get("body") or ""), draft.marker):
                return self._ticket(issue)
        return None

    async def create(self, draft: TicketDraft) -> Ticket:
        """Open the draft as a new issue."""
        response = await self._call(
            draft,
            "GitHub issue creation",
            "POST",
            self.issues_url,
            json={"title": draft.title[:256], "body": body_of(draft)},
        )
        try:
            issue = response.json()
        except ValueError as error:
            raise GiveUp("GitHub created an issue but its answer is not JSON") from error
        if not isinstance(issue, dict):
            raise GiveUp("GitHub created an issue but its answer is not an issue")
        return self._ticket(issue)

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        number, url = issue.get("number"), issue.get("html_url")
        if not isinstance(number, int) or not url:
            raise GiveUp("GitHub's issue has no number or html_url")
        return Ticket(tracker=NAME, key=f"{self.repo}#{number}", url=str(url))

    async def _call(
        self, draft: TicketDraft, label: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        """One request; a failure is journaled and raised as GiveUp or RetryLater.

        As `calls.call`, except that GitHub says "rate limited" with a 403 as well as a
        429, and when to come back in its own headers.
        """
        verdict, response = await attempt(self.client, method, url, headers=self.headers, **kwargs)
        if response is not None:
            verdict = judge_github(response, verdict)
        if verdict.ok and response is not None:
            return response
        data = {"integration": "tracker", "tracker": NAME, "number": draft.number}
        await self.journal.record(
            draft.incident_id,
            failure_text(label, verdict),
            ok=False,
            data={**data, "error": verdict.detail, "retry": verdict.outcome == "retry"},
        )
        raise as_error(label, verdict)


def body_of(draft: TicketDraft) -> str:
    """The issue's body: the draft's, then its marker in a comment GitHub does not show."""
    return f"{draft.body}\n\n<!-- {draft.marker} -->"


def marked(body: str, marker: str) -> bool:
    """Whether an issue body carries this marker (and not one that only starts with it)."""
    return f"<!-- {marker} -->" in body


def judge_github(response: httpx.Response, verdict: Verdict) -> Verdict:
    """GitHub's rate limits as retries: a 403 or 429 with `x-ratelimit-remaining: 0` waits
    until `x-ratelimit-reset`; one with `Retry-After` (a secondary limit) that long; a 403
    naming a secondary rate limit without either, a minute."""
    status = response.status_code
    if status not in (403, 429):
        return verdict
    wait = retry_after(response)
    if wait is None and response.headers.get("x-ratelimit-remaining") == "0":
        wait = _until_reset(response.headers.get("x-ratelimit-reset"))
    if wait is None and status == 403 and "rate limit" not in verdict.said.lower():
        return verdict  # a token without access: no wait fixes it
    return Verdict("retry", f"HTTP {status}", wait or SECONDARY_WAIT, said=verdict.said)


def _until_reset(reset: str | None) -> float | None:
    try:
        at = float(reset or "")
    except ValueError:
        return None
    return min(max(at - time.time(), 1.0), MAX_RETRY_AFTER)

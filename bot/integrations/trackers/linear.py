"""Linear: each follow-up filed as an issue in one team, through Linear's GraphQL API.

Linear answers most errors with HTTP 200 and an `errors` array, and a rate limit with
HTTP 400 and `extensions.code: "RATELIMITED"` (linear.app/developers/graphql, "Errors";
linear.app/developers/rate-limiting): neither is what `calls.call` takes them for, so each
answer is judged here, then recorded and raised the way `call` does.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import httpx

from bot.integrations.calls import as_error, attempt, failure_text
from bot.integrations.http import MAX_RETRY_AFTER, Verdict, judge, retry_after
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import Ticket, TicketDraft
from bot.outbox.errors import GiveUp

log = logging.getLogger(__name__)

# Codes (and, as Linear's SDK reads them, `extensions.type`) worth trying again later.
RATE_LIMITED = frozenset({"RATELIMITED", "ratelimited"})
TRANSIENT = frozenset(
    {"INTERNAL_SERVER_ERROR", "internal error", "LOCK_TIMEOUT", "lock timeout", "network error"}
)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SEARCH_MAX = 10

TEAMS = """
query WarroomTeam($key: String!) {
  teams(filter: { key: { eq: $key } }) { nodes { id key } }
}
"""
CREATE = """
mutation WarroomFollowUp($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}
"""
FIND = """
query WarroomFollowUpByMarker($teamId: ID!, $marker: String!, $first: Int!) {
  issues(
    first: $first
    filter: { team: { id: { eq: $teamId } }, description: { contains: $marker } }
  ) { nodes { identifier url description } }
}
"""


class LinearTracker:
    """Files follow-ups as issues of `team` (its key, like "ENG", or its id)."""

    name = "linear"

    def __init__(
        self, client: httpx.AsyncClient, journal: Journal, *, api_key: str, team: str, api_url: str
    ) -> None:
        self.client = client
        self.journal = journal
        self.api_url = api_url
        self.team = team
        # A personal API key goes as it is; an OAuth token comes as "Bearer ..." already.
        self.headers = {"Authorization": api_key, "Content-Type": "application/json"}
        self._team_id: str | None = team if UUID.fullmatch(team) else None

    async def create(self, draft: TicketDraft) -> Ticket:
        """File the draft as a new issue."""
        team_id = await self._team(draft)
        issue_input: dict[str, Any] = {
            "teamId": team_id,
            "title": " ".join(draft.title.split()),
            "description": f"{draft.body.rstrip()}\n\nwarroom: {draft.marker}",
        }
        if draft.due is not None:
            issue_input["dueDate"] = draft.due.isoformat()
        label = "Linear ticket creation"
        data = await self._graphql(draft, label, CREATE, {"input": issue_input})
        created = data.get("issueCreate") or {}
        issue = created.get("issue") or {}
        if not created.get("success") or not issue.get("identifier") or not issue.get("url"):
            raise await self._refused(draft, label, "an answer without the created issue")
        return Ticket(tracker=self.name, key=str(issue["identifier"]), url=str(issue["url"]))

    async def find(self, draft: TicketDraft) -> Ticket | None:
        """The issue an earlier creation of this draft made, found by its marker."""
        team_id = await self._team(draft)
        label = "Linear ticket lookup"
        data = await self._graphql(
            draft, label, FIND, {"teamId": team_id, "marker": draft.marker, "first": SEARCH_MAX}
        )
        nodes = (data.get("issues") or {}).get("nodes")
        if not isinstance(nodes, list):
            raise await self._refused(draft, label, "an answer without issues")
        for node in nodes:
            if not isinstance(node, dict):
                continue
            description = node.get("description") or ""
            # `contains` also matches "warroom-1-action-20" for "warroom-1-action-2".
            if (
                re.search(re.escape(draft.marker) + r"(?![\w-])", str(description))
                and node.get("identifier")
                and node.get("url")
            ):
                return Ticket(self.name, str(node["identifier"]), str(node["url"]))
        return None

    async def _team(self, draft: TicketDraft) -> str:
        """The team's id: given, or looked up once by its key."""
        if self._team_id is not None:
            return self._team_id
        label = "Linear team lookup"
        data = await self._graphql(draft, label, TEAMS, {"key": self.team})
        nodes = (data.get("teams") or {}).get("nodes") or []
        found = [node["id"] for node in nodes if isinstance(node, dict) and node.get("id")]
        if not found:
            raise await self._refused(draft, label, f"no team with the key {self.team!r}")
        self._team_id = str(found[0])
        return self._team_id

    async def _graphql(
        self, draft: TicketDraft, label: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """Send one GraphQL operation; its `data`, or record the failure and raise."""
        verdict, response = await attempt(
            self.client,
            "POST",
            self.api_url,
            headers=self.headers,
            json={"query": query, "variables": variables},
        )
        if response is not None:
            delivered = verdict.ok
            verdict = classify(response, self.journal.now())
            if verdict.ok:
                return response.json()["data"]
            if delivered:  # a 2xx carrying errors: `attempt` logged nothing of it
                log.warning("Linear answered %s: %s", verdict.detail, verdict.said or "(no body)")
        await self.journal.record(
            draft.incident_id,
            failure_text(label, verdict),
            ok=False,
            data={
                **self._data(draft),
                "error": verdict.detail,
                "retry": verdict.outcome == "retry",
            },
        )
        raise as_error(label, verdict)

    def _data(self, draft: TicketDraft) -> dict[str, Any]:
        return {"integration": self.name, "follow_up": draft.number, "marker": draft.marker}

    async def _refused(self, draft: TicketDraft, label: str, why: str) -> GiveUp:
        reason = f"{label} refused ({why})"
        await self.journal.record(
            draft.incident_id, reason, ok=False, data={**self._data(draft), "retry": False}
        )
        return GiveUp(reason)


def classify(response: httpx.Response, now: datetime) -> Verdict:
    """Judge a GraphQL answer: its `errors` first (whatever the HTTP status), then the status.

    Rate limited: retry after `Retry-After`, else when the exhausted budget resets. A
    transient server error: retry. Any other error: refused. A 2xx without `data`: refused.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        codes = [_code(error) for error in errors]
        said = "; ".join(str(error.get("message")) for error in errors if isinstance(error, dict))
        status = f"HTTP {response.status_code}"
        named = next((code for code in codes if code), "GraphQL error")
        if any(code in RATE_LIMITED for code in codes):
            return Verdict(
                "retry", f"{status}, RATELIMITED", _reset(response, now), said=said[:300]
            )
        if any(code in TRANSIENT for code in codes) or response.status_code >= 500:
            return Verdict("retry", f"{status}, {named}", said=said[:300])
        return Verdict("refused", f"{status}, {named}", said=said[:300])
    verdict = judge(response)
    if verdict.ok and not (isinstance(body, dict) and isinstance(body.get("data"), dict)):
        return Verdict("refused", f"HTTP {response.status_code}, no data", said=response.text[:300])
    return verdict


def _code(error: Any) -> str | None:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    if not isinstance(extensions, dict):
        return None
    code = extensions.get("code") or extensions.get("type")
    return str(code) if code else None


def _reset(response: httpx.Response, now: datetime) -> float | None:
    """Seconds to wait: `Retry-After`, else until the spent budget (requests or complexity,
    whichever has none remaining) resets; its reset header is a time in epoch ms."""
    delay = retry_after(response)
    if delay is not None:
        return delay
    resets: dict[bool, list[float]] = {True: [], False: []}
    for budget in ("Requests", "Complexity"):
        reset = response.headers.get(f"X-RateLimit-{budget}-Reset", "").strip()
        if not reset.isdigit():
            continue
        spent = response.headers.get(f"X-RateLimit-{budget}-Remaining", "").strip() == "0"
        resets[spent].append(int(reset) / 1000 - now.timestamp())
    waits = [wait for wait in resets[True] or resets[False] if wait > 0]
    if not waits:
        return None
    return min(max(waits), MAX_RETRY_AFTER)

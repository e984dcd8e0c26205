"""Jira Cloud: each follow-up filed as a Task in one project, through REST API v3.

Create: `POST /rest/api/3/issue` (developer.atlassian.com/cloud/jira/platform/rest/v3/
api-group-issues/#api-rest-api-3-issue-post), basic auth with an account's email and API
token, the description in Atlassian Document Format. Find: `POST /rest/api/3/search/jql`,
the enhanced search that replaced `/rest/api/3/search` (removed from Jira Cloud in 2025;
api-group-issue-search/#api-rest-api-3-search-jql-post), for the marker every ticket's
description ends with.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from bot.integrations.calls import call
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import Ticket, TicketDraft
from bot.outbox.errors import GiveUp

SUMMARY_MAX = 255  # Jira refuses a longer summary
SEARCH_MAX = 10


class JiraTracker:
    """Files follow-ups as Tasks in `project` on the Jira Cloud site at `url`."""

    name = "jira"

    def __init__(
        self,
        client: httpx.AsyncClient,
        journal: Journal,
        *,
        url: str,
        email: str,
        token: str,
        project: str,
    ) -> None:
        self.client = client
        self.journal = journal
        self.base = url.rstrip("/")
        self.project = project
        basic = base64.b64encode(f"{email}:{token}".encode()).decode("ascii")
        self.headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}

    async def create(self, draft: TicketDraft) -> Ticket:
        """File the draft as a new Task."""
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": "Task"},
            "summary": _one_line(draft.title)[:SUMMARY_MAX],
            "description": adf(draft),
        }
        if draft.due is not None:
            fields["duedate"] = draft.due.isoformat()
        label = "Jira ticket creation"
        response = await call(
            self.client,
            self.journal,
            incident_id=draft.incident_id,
            label=label,
            data=self._data(draft),
            method="POST",
            url=f"{self.base}/rest/api/3/issue",
            headers=self.headers,
            json={"fields": fields},
        )
        key = _field(response, "key")
        if key is None:
            raise await self._unreadable(draft, label)
        return self._ticket(key)

    async def find(self, draft: TicketDraft) -> Ticket | None:
        """The Task an earlier creation of this draft made, found by its marker."""
        # A phrase search, since Jira's text search splits "warroom-1-action-2" into
        # words; `_carries` then insists on the marker itself ("...-action-2", not "-20").
        jql = (
            f'project = "{_quoted(self.project)}" AND description ~ "\\"{_quoted(draft.marker)}\\""'
        )
        label = "Jira ticket lookup"
        response = await call(
            self.client,
            self.journal,
            incident_id=draft.incident_id,
            label=label,
            data=self._data(draft),
            method="POST",
            url=f"{self.base}/rest/api/3/search/jql",
            headers=self.headers,
            json={"jql": jql, "fields": ["summary", "description"], "maxResults": SEARCH_MAX},
        )
        try:
            body = response.json()
        except ValueError:
            raise await self._unreadable(draft, label) from None
        issues = body.get("issues") if isinstance(body, dict) else None
        if not isinstance(issues, list):
            raise await self._unreadable(draft, label)
        for issue in issues:
            if not isinstance(issue, dict) or not isinstance(issue.get("key"), str):
                continue
            description = (issue.get("fields") or {}).get("description")
            if _carries(description, draft.marker):
                return self._ticket(issue["key"])
        return None

    def _ticket(self, key: str) -> Ticket:
        return Ticket(tracker=self.name, key=key, url=f"{self.base}/browse/{key}")

    def _data(self, draft: TicketDraft) -> dict[str, Any]:
        return {"integration": self.name, "follow_up": draft.number, "marker": draft.marker}

    async def _unreadable(self, draft: TicketDraft, label: str) -> GiveUp:
        """Record and return the failure of an answer that is 2xx but not what Jira documents."""
        reason = f"{label} failed (an answer without the documented fields)"
        await self.journal.record(
            draft.incident_id, reason, ok=False, data={**self._data(draft), "retry": False}
        )
        return GiveUp(reason)


def adf(draft: TicketDraft) -> dict[str, Any]:
    """The draft's Markdown body as an Atlassian Document Format document, a paragraph a
    line (Jira shows the Markdown marks as typed), ending with the marker."""
    lines = [line.strip() for line in draft.body.splitlines()]
    paragraphs = [line for line in lines if line]
    paragraphs.append(f"warroom: {draft.marker}")
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in paragraphs
        ],
    }


def adf_text(node: Any) -> str:
    """All the text of an ADF document (or a plain string, as v2 answers it)."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        own = node.get("text")
        return (own if isinstance(own, str) else "") + "\n".join(
            adf_text(child) for child in node.get("content") or []
        )
    if isinstance(node, list):
        return "\n".join(adf_text(child) for child in node)
    return ""


def _carries(description: Any, marker: str) -> bool:
    return re.search(re.escape(marker) + r"(?![\w-])", adf_text(description)) is not None


def _field(response: httpx.Response, name: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _quoted(value: str) -> str:
    """Safe inside a JQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')

"""A tracker under test talks to respx; the incident and its timeline are real rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.integrations.http import make_client
from bot.integrations.journal import Journal
from bot.integrations.trackers.base import TicketDraft
from tests.bot.integrations.conftest import Build, Harness

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> dict[str, Any]:
    """A fixture from payloads/ (see its README for where each comes from)."""
    return json.loads((PAYLOADS / name).read_text())


def raw(name: str) -> bytes:
    """A fixture's bytes exactly as stored: what the test signs."""
    return (PAYLOADS / name).read_bytes()


@dataclass
class Scene:
    """One declared incident, the journal trackers record on, the shared HTTP client."""

    harness: Harness
    journal: Journal
    client: httpx.AsyncClient
    incident_id: int

    def draft(self, number: int = 2, **changes: Any) -> TicketDraft:
        """The incident's follow-up `number`, as the follow-up core drafts it."""
        fields: dict[str, Any] = {
            "incident_id": self.incident_id,
            "number": number,
            "marker": f"warroom-{self.incident_id}-action-{number}",
            "title": "Add a second region for the matching engine's dependency",
            "body": (
                "Add a second region for the matching engine's dependency\n\n"
                f"From incident #{self.incident_id}: Matching engine down (sev1)\n"
                "Owner: Alice\n"
                "Due: 2021-03-17"
            ),
            "owner": "Alice",
            "due": date(2021, 3, 17),
        }
        fields.update(changes)
        return TicketDraft(**fields)

    def timeline(self) -> list[tuple[str, dict[str, Any]]]:
        """The incident's integration entries: (text, data)."""
        return [(e.text, e.data) for e in self.harness.timeline(self.incident_id)]


@pytest.fixture
async def scene(harness: Build) -> AsyncIterator[Scene]:
    """A sev1 incident declared, nothing configured: the tracker is built by the test."""
    h = harness()
    incident_id = h.declare("declare Matching engine down sev1")
    client = make_client()
    try:
        yield Scene(h, Journal(h.sessions, h.clock), client, incident_id)
    finally:
        await client.aclose()

"""Slack-side text is made storable where it enters, like alert text: through the sandbox over
real HTTP, a NUL in a slash command and a cut emoji in a modal input are recorded cleaned
(on PostgreSQL either one used to be refused by the inbox, and the ack said the database was
down)."""

from __future__ import annotations

import json

import httpx

from tests.e2e.conftest import Service
from tests.support.server import wait_until


def _incidents(service: Service) -> list[dict]:
    answer = httpx.get(f"{service.url}/api/incidents", headers=service.auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["incidents"]


def test_a_nul_in_a_slash_command_is_removed(service: Service) -> None:
    alice = service.sandbox.as_user("alice")

    answer = alice.command("/incident declare Settlement\x00 lagging sev2", "general")

    assert answer["ok"], answer
    assert "database" not in json.dumps(answer["response"] or {})
    [incident] = wait_until(lambda: _incidents(service), timeout=10)
    assert (incident["title"], incident["severity"]) == ("Settlement lagging", "sev2")


def test_a_cut_emoji_in_a_modal_input_is_replaced(service: Service) -> None:
    alice = service.sandbox.as_user("alice")
    alice.command("/incident declare", "general")
    wait_until(lambda: alice.open_views(), timeout=10)
    # JSON written as a JavaScript client cutting "🔥" would: its first half escaped alone.
    body = {"user": alice.id, "values": {"title": "Disk \ud83d full", "severity": "sev2"}}

    answer = httpx.post(
        f"{service.sandbox.api_url}sandbox.submitView",
        content=json.dumps(body).encode("ascii"),
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 200 and answer.json()["ok"], answer.text
    [incident] = wait_until(lambda: _incidents(service), timeout=10)
    assert incident["title"] == "Disk \ufffd full"
    detail = httpx.get(f"{service.url}/api/incidents/{incident['id']}", headers=service.auth)
    assert detail.status_code == 200

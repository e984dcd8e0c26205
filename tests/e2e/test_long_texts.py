"""No text warroom builds can be refused by Slack for its length: an incident whose title
and alert links are far past every Block Kit limit still gets its channel topic and purpose,
its card, its App Home entry and its announcement, each cut with a visible "…", from the
strict sandbox (tests/bot/sandbox/test_block_kit.py)."""

from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import Service
from tests.e2e.test_refusals import open_incident, settled
from tests.support.commands import run_command
from tests.support.server import wait_until

TITLE = "Disk full on " + "x" * 100_000
URLS = [f"https://grafana.example.com/d/{n}?q=" + "u" * 2000 for n in range(1, 6)]
REFUSALS = ("invalid_blocks", "invalid_arguments", "msg_too_long", "too_long")


def test_a_huge_incident_is_shown_everywhere_cut_to_slacks_limits(service: Service) -> None:
    alerts = [
        {
            "title": TITLE if n == 0 else f"disk alert {n}",
            "severity": "sev3",
            "labels": {"service": "storage", "n": str(n)},
            "group": "storage-huge",
            "url": url,
        }
        for n, url in enumerate(URLS)
    ]
    incident_id, channel = open_incident(service, {"alerts": alerts})
    run_command(service.runtime, "note after the card", user_id="U0ALICE", incident_id=incident_id)
    wait_until(lambda: settled(service, incident_id), timeout=30)

    described = service.sandbox.channel(channel)
    assert described["topic"]["value"] == f"SEV3 · investigating · {TITLE}"[:249] + "…"
    assert described["purpose"]["value"].endswith("xxx…")
    assert len(described["purpose"]["value"]) == 250

    [card] = [m for m in service.sandbox.messages(channel) if m.get("pinned_to")]
    assert card["blocks"][0]["text"]["text"].endswith("x…")
    [links] = [b for b in card["blocks"] if b["type"] == "context" and "alert" in str(b)]
    # Every link whole and clickable: each is an element of its own, within 3,000.
    assert [e["text"] for e in links["elements"]] == [
        f"<{url}|alert {n}>" for n, url in enumerate(URLS, 1)
    ]

    announced = [
        m["text"]
        for m in service.sandbox.messages("incidents")
        if re.search("Disk full on", m.get("text") or "")
    ]
    assert len(announced) == 1 and "x…" in announced[0]

    home = wait_until(lambda: _home_entry(service, incident_id), timeout=15)
    assert home.startswith(f":large_yellow_circle: *#{incident_id} {TITLE[:299]}…*\n")

    refused = [c for c in service.sandbox.calls() if c["error"] in REFUSALS]
    assert refused == []  # cut before sending: Slack never had to refuse anything


def _home_entry(service: Service, incident_id: int) -> str | None:
    """Alice opens the App Home; the text of the incident's entry once warroom published it."""
    service.sandbox.as_user("alice").open_home()
    home = service.sandbox.home("U0ALICE")
    for block in (home or {}).get("blocks", []):
        text = (block.get("text") or {}).get("text", "")
        if f"#{incident_id} " in text:
            return str(text)
    return None


def test_the_api_keeps_the_whole_title(service: Service) -> None:
    """The cut is Slack's alone: warroom's own record keeps every character."""
    incident_id, _ = open_incident(
        service, {"title": TITLE, "severity": "sev3", "labels": {"service": "s"}, "group": "g1"}
    )
    url = f"{service.url}/api/incidents/{incident_id}"
    assert httpx.get(url, headers=service.auth).json()["title"] == TITLE

"""Socket Mode end to end: the bot dials the sandbox's WebSocket; commands and clicks arrive
over it as envelopes while alerts and the API keep answering over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import Engine

from tests.e2e.conftest import Service, serving
from tests.support.server import wait_until

APP_TOKEN = "xapp-1-A0WARROOM-1-socketmodetest"
PAYLOADS = Path(__file__).parents[1] / "bot" / "alerts" / "payloads"


def _sockets(service: Service) -> dict:
    return httpx.get(f"{service.url}/sandbox/api/sandbox.sockets").json()


def _incident(service: Service, incident_id: int) -> dict:
    return httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth).json()


def test_commands_and_clicks_reach_the_bot_through_the_socket(
    database: tuple[Engine, str],
) -> None:
    with serving(database[1], SLACK_APP_TOKEN=APP_TOKEN) as service:
        wait_until(lambda: _sockets(service)["connections"] == 1, timeout=15)
        assert service.sandbox.info()["app_token"] == APP_TOKEN

        body = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
        answer = httpx.post(f"{service.url}/alerts/alertmanager", json=body, headers=service.auth)
        assert answer.status_code == 202, answer.text
        incident_id = answer.json()["incidents"][0]["id"]
        channel = wait_until(lambda: _incident(service, incident_id)["channel_id"], timeout=10)

        alice = service.sandbox.as_user("alice")
        # The playbook invites her through the outbox, maybe not yet: she joins, as anyone may.
        alice.join(channel)
        bad = alice.command("/incident sev 9", channel)
        # Replies are mrkdwn: Slack wants its control characters escaped.
        assert "Usage: `/incident sev &lt;1-4&gt;`" in bad["response"]["text"]

        assert alice.command("/incident ack", channel)["ok"]
        wait_until(
            lambda: _incident(service, incident_id)["roles"].get("commander") == "U0ALICE",
            timeout=10,
        )
        wait_until(
            lambda: any(m.get("pinned_to") for m in service.sandbox.messages(channel)), timeout=10
        )
        assert alice.click(channel, "incident_resolve")["ok"]
        wait_until(lambda: _incident(service, incident_id)["status"] == "resolved", timeout=10)

        kinds = {envelope["type"] for envelope in _sockets(service)["delivered"]}
        assert {"slash_commands", "interactive"} <= kinds


def test_a_wrong_app_token_is_refused(service: Service) -> None:
    opened = httpx.post(
        f"{service.url}/sandbox/api/apps.connections.open",
        headers={"Authorization": "Bearer xapp-1-wrong"},
    ).json()
    assert opened == {"ok": False, "error": "invalid_auth"}
    bot_token = httpx.post(
        f"{service.url}/sandbox/api/apps.connections.open",
        headers={"Authorization": f"Bearer {service.sandbox.bot_token}"},
    ).json()
    assert bot_token["error"] == "not_allowed_token_type"
    app_token = service.sandbox.info()["app_token"]
    good = httpx.post(
        f"{service.url}/sandbox/api/apps.connections.open",
        headers={"Authorization": f"Bearer {app_token}"},
    ).json()
    assert good["ok"] and good["url"].startswith("ws://127.0.0.1:")
    assert "/sandbox/socket?ticket=" in good["url"]

"""Outgoing webhooks from the running service to a local receiver, each event checked
against its JSON Schema in bot/integrations/webhook_schemas/ (the contract WEBHOOKS.md
documents): every event is sent, with the data it promises."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from bot.integrations.webhooks import sign
from playbooks import bundled_dir
from tests.e2e.conftest import Service, serving
from tests.support.server import run_app_in_thread, wait_until
from tests.support.webhook_schemas import problems, validators

SECRET = "whsec-e2e-0123456789abcdef"
PLAYBOOK = """\
id: hooked
title: Checkout outage
match: {service: checkout}
severity: sev2
stages:
  - id: detect
    title: Detect
    enter_on: detected
  - id: respond
    title: Respond to the outage
    enter_on: acknowledged
    on_enter:
      - webhook: "{receiver}/stage"
"""


class Receiver:
    """A team's endpoint: keeps every delivery it is sent, answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def take(path: str, request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.deliveries.append((path, dict(request.headers), body))
            return Response(status_code=200)

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            taken = list(self.deliveries)
        return [json.loads(body) for where, _, body in taken if path is None or where == path]


def _get(service: Service, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{service.url}{path}", params=params, headers=service.auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _of(events: list[dict[str, Any]], incident_id: int) -> list[str]:
    return [e["event"] for e in events if e["incident"]["id"] == incident_id]


def test_every_event_is_sent_complete_and_matches_its_schema(
    database: tuple[Engine, str], tmp_path: Path
) -> None:
    receiver = Receiver()
    with run_app_in_thread(receiver.app) as hooks:
        folder = tmp_path / "playbooks"
        shutil.copytree(bundled_dir(), folder)
        (folder / "hooked.yaml").write_text(PLAYBOOK.replace("{receiver}", hooks))
        settings = {
            "WARROOM_PLAYBOOKS": str(folder),
            "WARROOM_WEBHOOKS": f"{hooks}/all",
            "WARROOM_WEBHOOK_SECRET": SECRET,
        }
        with serving(database[1], **settings) as service:
            alert = {
                "title": "Checkout failing",
                "severity": "sev2",
                "labels": {"service": "checkout"},
            }
            answer = httpx.post(f"{service.url}/alerts/generic", json=alert, headers=service.auth)
            assert answer.status_code == 202, answer.text
            incident_id = answer.json()["incidents"][0]["id"]
            channel = wait_until(
                lambda: _get(service, f"/api/incidents/{incident_id}")["channel_id"], timeout=10
            )
            alice = service.sandbox.as_user("alice")
            alice.join(channel)
            for command in (
                "ack",
                "sev 1",
                "status identified bad deploy",
                "mitigate rolled back",
                "resolve all clear",
                "reopen",
            ):
                assert alice.command(f"/incident {command}", channel)["ok"]
            expected = [
                "incident.opened",
                "playbook.stage",
                "incident.severity_changed",
                "incident.status_changed",
                "incident.status_changed",
                "incident.resolved",
                "postmortem.ready",
                "incident.reopened",
            ]
            wait_until(lambda: _of(receiver.events("all"), incident_id) == expected, timeout=20)

            assert alice.command("/incident drill hooked", "general")["ok"]
            drill = wait_until(
                lambda: _get(service, "/api/incidents", drill="true")["incidents"], timeout=10
            )[0]
            drill_channel = wait_until(
                lambda: _get(service, f"/api/incidents/{drill['id']}")["channel_id"], timeout=10
            )
            alice.join(drill_channel)
            assert alice.command("/incident ack", drill_channel)["ok"]
            assert alice.command("/incident resolve drill over", drill_channel)["ok"]
            assert alice.command("/incident postmortem publish", drill_channel)["ok"]
            wait_until(
                lambda: "postmortem.published" in _of(receiver.events("all"), drill["id"]),
                timeout=20,
            )
            # The API's timeline keeps each delivery, as the system's; the postmortem does not.
            delivered = wait_until(
                lambda: [
                    e
                    for e in _get(service, f"/api/incidents/{incident_id}/timeline")["events"]
                    if e["text"].startswith("Webhook incident.reopened to 127.0.0.1 delivered")
                ],
                timeout=10,
            )
            assert [(e["kind"], e["source"]) for e in delivered] == [("integration", "system")]
            draft = httpx.get(
                f"{service.url}/api/incidents/{incident_id}/postmortem", headers=service.auth
            ).text
            assert "| reopened |" in draft
            assert "Webhook" not in draft

    with receiver.lock:
        deliveries = list(receiver.deliveries)
    for _path, headers, body in deliveries:
        event = json.loads(body)
        assert headers["x-warroom-event"] == event["event"]
        timestamp = headers["x-warroom-timestamp"]
        assert headers["x-warroom-signature"] == sign(SECRET, timestamp, body)
        assert not problems(event), (event, problems(event))
    # Every documented event was sent and checked, and nothing undocumented was sent.
    assert {json.loads(body)["event"] for _, _, body in deliveries} == set(validators())

    events = receiver.events("all")
    opened = next(e for e in events if e["event"] == "incident.opened")
    assert opened["incident"]["channel_id"] == channel  # sent once the channel exists
    assert opened["incident"]["url"] == f"https://slack.com/app_redirect?channel={channel}"
    [stage] = [e for e in events if e["event"] == "playbook.stage"]
    assert stage["stage"] == {"id": "respond", "title": "Respond to the outage"}
    assert receiver.events("stage") == [stage]  # the step's own URL gets it too
    statuses = [e["incident"]["status"] for e in events if e["event"] == "incident.status_changed"]
    assert statuses == ["identified", "monitoring"]
    reopened = next(e for e in events if e["event"] == "incident.reopened")
    assert (reopened["incident"]["status"], reopened["incident"]["resolved_at"]) == (
        "investigating",
        None,
    )
    # A drill: opened, resolved (and its draft), its postmortem published, flagged; its
    # stage step is not taken.
    drilled = [e for e in events if e["incident"]["id"] == drill["id"]]
    assert [e["event"] for e in drilled] == [
        "incident.opened",
        "incident.resolved",
        "postmortem.ready",
        "postmortem.published",
    ]
    assert all(e["incident"]["drill"] is True for e in drilled)
    assert drilled[0]["incident"]["channel_id"] == drill_channel
    assert not any(e["incident"]["drill"] for e in events if e["incident"]["id"] == incident_id)

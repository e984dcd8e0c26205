"""PagerDuty both ways: warroom pages, PagerDuty's V3 webhooks about that page come back.

The Events API is a local stand-in answering as documented ("Send an Alert Event": 202
with status, message and dedup_key); the webhooks are PagerDuty's own documented V3
examples (tests/bot/alerts/payloads/pagerduty_v3/README.md), with the dedup key warroom
sent as their `incident_key` and the time they happen now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage.models import OutboxOp
from tests.e2e.conftest import Service, serving
from tests.support.server import run_app_in_thread, wait_until

V3 = Path(__file__).parents[1] / "bot" / "alerts" / "payloads" / "pagerduty_v3"
ROUTING_KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL"
NOTE = "I sure am glad we are using PagerDuty!"  # the documented note's content


def events_api(received: list[dict[str, Any]]) -> Starlette:
    """PagerDuty's Events API v2 accepting every event."""

    async def enqueue(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]},
            status_code=202,
        )

    return Starlette(routes=[Route("/v2/enqueue", enqueue, methods=["POST"])])


def webhook(name: str, key: str | None, at: datetime) -> dict[str, Any]:
    """A documented V3 payload about the incident PagerDuty opened for dedup key `key`."""
    payload = json.loads((V3 / f"{name}.json").read_text())
    payload["event"]["occurred_at"] = at.isoformat().replace("+00:00", "Z")
    if key is not None:
        payload["event"]["data"]["incident_key"] = key
    return payload


def deliver(service: Service, payload: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{service.url}/alerts/pagerduty", json=payload, headers=service.auth)
    assert answer.status_code == 202, answer.text
    return answer.json()


def api(service: Service, path: str) -> Any:
    return httpx.get(f"{service.url}/api/incidents{path}", headers=service.auth).json()


def test_pagerduty_reporting_on_our_page_keeps_one_incident_and_fills_its_timeline(
    database: tuple[Engine, str],
) -> None:
    received: list[dict[str, Any]] = []
    with run_app_in_thread(events_api(received)) as pagerduty:
        settings = {
            "WARROOM_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "WARROOM_PAGERDUTY_URL": f"{pagerduty}/v2/enqueue",
        }
        with serving(database[1], **settings) as service:
            alice = service.sandbox.as_user("alice")
            assert alice.command("/incident declare Spot trading errors sev1", "general")["ok"]
            trigger = wait_until(lambda: received and received[0], timeout=15)
            [incident] = api(service, "")["incidents"]
            assert (trigger["event_action"], trigger["dedup_key"]) == (
                "trigger",
                f"warroom-{incident['id']}",
            )
            channel = wait_until(lambda: api(service, f"/{incident['id']}")["channel_id"])
            key, now = trigger["dedup_key"], datetime.now(UTC).replace(microsecond=0)

            # PagerDuty's webhooks about the incident it opened for that page.
            opened = deliver(service, webhook("triggered", key, now))
            acked = deliver(service, webhook("acknowledged", key, now + timedelta(seconds=30)))
            noted = deliver(service, webhook("annotated", None, now + timedelta(seconds=60)))

            texts = wait_until(
                lambda: (
                    (t := [m.get("text", "") for m in service.sandbox.messages(channel)])
                    and any(NOTE in text for text in t)
                    and t
                ),
                timeout=15,
            )
            events = api(service, f"/{incident['id']}/timeline")["events"]
            incidents = api(service, "")["incidents"]
            detail = api(service, f"/{incident['id']}")
            with service.runtime.sessions() as session:
                pages = session.scalar(
                    select(func.count()).where(OutboxOp.kind == "pagerduty.event")
                )

    # Still one incident: the page's own webhooks updated it, none opened another.
    assert [i["id"] for i in incidents] == [incident["id"]]
    for answer in (opened, acked, noted):
        assert answer["incidents"][0]["id"] == incident["id"]
        assert answer["incidents"][0]["created"] is False
        assert answer["updates"][0]["applied"] is True
    # The ack from PagerDuty: its agent, at the time it happened there.
    [ack] = [e for e in events if e["kind"] == "ack"]
    assert (ack["actor"], ack["text"]) == ("Tenex Engineer", "acknowledged in PagerDuty")
    assert datetime.fromisoformat(ack["at"]) == now + timedelta(seconds=30)
    milestone = detail["milestones"]["acknowledged"]
    assert datetime.fromisoformat(milestone["at"]) == now + timedelta(seconds=30)
    assert (milestone["actor"], milestone["source"]) == ("Tenex Engineer", "pager")
    # The note, by its author, in the timeline and the channel.
    [note] = [e for e in events if e["kind"] == "note"]
    assert (note["actor"], note["text"]) == ("Tenex Engineer", NOTE)
    assert "Tenex Engineer acknowledged the incident in PagerDuty" in texts
    assert f"Note from Tenex Engineer in PagerDuty: {NOTE}" in texts
    # Nothing went back to PagerDuty: the one trigger is all it ever got.
    assert pages == 1
    assert [event["event_action"] for event in received] == ["trigger"]

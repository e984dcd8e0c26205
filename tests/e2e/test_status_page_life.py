"""The status page lives and dies with the incident: opened under the public title with the
public text only, resolved on resolve, reopened on reopen, and the channel told what the
status page answered once it answered. Scheduled maintenance is published as Statuspage's
scheduled incident and follows its window. Statuspage: see tests/e2e/statuspage_fake.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import respx
from sqlalchemy import Engine, select
from sqlmodel import col

from bot.incidents import effects
from bot.incidents.clock import SimulatedClock
from bot.scheduling import scheduler
from storage.models import Maintenance, OutboxOp
from tests.e2e.conftest import Service, serving
from tests.e2e.statuspage_fake import SETTINGS, FakeStatuspage
from tests.support.server import wait_until

INTERNAL = "Orders DB primary lost its disk"
NOTE = "suspect the SAN firmware, do not publish"


def _incident(service: Service, incident_id: int) -> dict:
    answer = httpx.get(f"{service.url}/api/incidents/{incident_id}", headers=service.auth)
    return answer.json() if answer.status_code == 200 else {}


def _texts(service: Service, channel: str) -> list[str]:
    return [m.get("text", "") for m in service.sandbox.messages(channel)]


def _told(service: Service, channel: str, text: str) -> list[str]:
    return wait_until(lambda: [t for t in _texts(service, channel) if text in t], timeout=15)


def _declare(service: Service, text: str) -> str:
    alice = service.sandbox.as_user("alice")
    assert alice.command(f"/incident declare {text}", "general")["ok"]
    channel = wait_until(lambda: _incident(service, 1).get("channel_id"), timeout=10)
    # The declarer is invited after the channel is made: type there only once in it.
    wait_until(lambda: "U0ALICE" in service.sandbox.channel(channel)["members"], timeout=10)
    return channel


def test_the_status_page_follows_the_incident_under_its_public_title(
    database: tuple[Engine, str],
) -> None:
    statuspage = FakeStatuspage()
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        statuspage.install(mock)
        with serving(database[1], **SETTINGS) as service:
            channel = _declare(service, f"{INTERNAL} sev3")
            alice = service.sandbox.as_user("alice")
            alice.command("/incident public-title Delayed order processing", channel)
            alice.command(f"/incident note {NOTE}", channel)
            alice.command("/incident statuspage investigating Orders are delayed.", channel)
            _told(service, channel, "Status page updated: investigating")
            alice.command(f"/incident resolve {NOTE}", channel)
            _told(service, channel, "Status page updated: resolved")
            alice.command("/incident reopen", channel)
            told = wait_until(
                lambda: (
                    (t := _told(service, channel, "Status page updated: ")) and len(t) == 3 and t
                ),
                timeout=15,
            )

    [created] = statuspage.bodies("POST")
    assert created["name"] == "Delayed order processing"
    assert (created["status"], created["body"]) == ("investigating", "Orders are delayed.")
    assert [(b["status"], b["body"]) for b in statuspage.bodies("PATCH")] == [
        ("resolved", "This incident has been resolved."),
        ("investigating", "We are investigating this issue again."),
    ]
    sent = json.dumps(statuspage.requests)
    assert INTERNAL not in sent and "SAN" not in sent  # internal title and notes stay home
    assert statuspage.incidents["sp1"]["status"] == "investigating"
    # Each message came after the status page answered, and says what it answered.
    assert told == [
        ":globe_with_meridians: Status page updated: investigating",
        ":globe_with_meridians: Status page updated: resolved",
        ":globe_with_meridians: Status page updated: investigating",
    ]


def test_a_playbook_without_a_public_text_never_sends_the_internal_title(
    database: tuple[Engine, str],
) -> None:
    statuspage = FakeStatuspage()
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        statuspage.install(mock)
        with serving(database[1], **SETTINGS) as service:
            # The trading playbook's first stage publishes `investigating` on its own.
            channel = _declare(service, f"{INTERNAL} sev3 playbook:trading-engine-outage")
            alice = service.sandbox.as_user("alice")
            alice.command("/incident ack", channel)  # the stage that publishes starts on ack
            _told(service, channel, "Status page updated: investigating")
            alice.command("/incident resolve restored", channel)
            _told(service, channel, "Status page updated: resolved")
            wait_until(lambda: len(statuspage.requests) >= 2, timeout=10)

    [created] = statuspage.bodies("POST")
    assert created["name"] == "Spot and margin trading disruption"  # the playbook's wording
    assert INTERNAL not in json.dumps(statuspage.requests)
    # The review stage's own `statuspage: resolved` and the resolve's follow-up: one update.
    assert [b["status"] for b in statuspage.bodies("PATCH")] == ["resolved"]


def test_without_statuspage_the_channel_says_nothing_was_published(service: Service) -> None:
    channel = _declare(service, f"{INTERNAL} sev3")
    alice = service.sandbox.as_user("alice")
    alice.command("/incident statuspage investigating Orders are delayed.", channel)
    told = _told(service, channel, "Status page not updated")
    assert told == ["Status page not updated: Statuspage is not configured"]
    # The command's own echo claims nothing before the answer.
    echoes = [t for t in _texts(service, channel) if "Orders are delayed." in t]
    assert echoes and all("requested" in t for t in echoes)
    # A resolve with no status-page incident to follow says nothing about it.
    alice.command("/incident resolve restored", channel)
    wait_until(lambda: any(m.get("files") for m in service.sandbox.messages(channel)), timeout=15)
    assert len([t for t in _texts(service, channel) if t.startswith("Status page")]) == 1


def test_a_refusal_is_told_as_a_refusal(database: tuple[Engine, str]) -> None:
    statuspage = FakeStatuspage(refuse=422)
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        statuspage.install(mock)
        with serving(database[1], **SETTINGS) as service:
            channel = _declare(service, f"{INTERNAL} sev3")
            alice = service.sandbox.as_user("alice")
            alice.command("/incident statuspage investigating Orders are delayed.", channel)
            told = _told(service, channel, "status page")
            updated = [t for t in _texts(service, channel) if "Status page updated" in t]

    assert updated == []
    assert told == [
        ":warning: Could not update the status page: Statuspage incident creation refused "
        "(HTTP 422). The steps after it went on."
    ]


def _maintenance_ops(service: Service) -> list[OutboxOp]:
    query = select(OutboxOp).where(col(OutboxOp.kind) == effects.STATUSPAGE_MAINTENANCE)
    with service.runtime.sessions() as session:
        return list(session.scalars(query.order_by(col(OutboxOp.id))))


def _done(service: Service, count: int) -> bool:
    found = _maintenance_ops(service)
    return len(found) == count and all(op.state == "done" for op in found)


def test_maintenance_is_published_with_its_window_and_follows_it(
    database: tuple[Engine, str],
) -> None:
    statuspage = FakeStatuspage()
    # Years ahead: the scheduler's jobs for the window wait on the wall clock, and a window
    # already past in real time fired its start by itself (this test broke on 2026-12-08
    # 02:00 UTC, its first window's start); here only the test fires them.
    clock = SimulatedClock(datetime(2036, 12, 7, 1, 0, tzinfo=UTC))  # 09:00 in Hong Kong
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        statuspage.install(mock)
        with serving(database[1], clock=clock, **SETTINGS) as service:
            alice = service.sandbox.as_user("alice")
            text = "/incident maintenance 2036-12-08 10:00 2h Matching engine upgrade"
            assert alice.command(text, "general")["ok"]
            wait_until(lambda: _done(service, 1), timeout=15)
            scheduled = dict(statuspage.incidents["sp1"])
            # The scheduler's jobs for the window's start and end, as they fire.
            clock.advance(timedelta(days=1, hours=1))
            scheduler.fire_maintenance(1, "start")
            wait_until(lambda: _done(service, 2), timeout=15)
            clock.advance(timedelta(hours=2))
            scheduler.fire_maintenance(1, "end")
            wait_until(lambda: _done(service, 3), timeout=15)
            second = "/incident maintenance 2036-12-09 10:00 1h Ledger reindex"
            assert alice.command(second, "general")["ok"]
            wait_until(lambda: _done(service, 4), timeout=15)
            assert alice.command("/incident maintenance cancel 2", "general")["ok"]
            wait_until(lambda: _done(service, 5), timeout=15)
            with service.runtime.sessions() as session:
                rows = session.scalars(select(Maintenance).order_by(col(Maintenance.id)))
                refs = [m.external for m in rows]

    assert scheduled["status"] == "scheduled"
    assert scheduled["name"] == "Matching engine upgrade"
    # 10:00-12:00 Hong Kong time is 02:00-04:00 UTC.
    assert scheduled["scheduled_for"] == "2036-12-08T02:00:00Z"
    assert scheduled["scheduled_until"] == "2036-12-08T04:00:00Z"
    assert scheduled["scheduled_remind_prior"] is True
    # warroom moves it itself, on its scheduler's clock.
    assert scheduled["scheduled_auto_in_progress"] is False
    assert scheduled["scheduled_auto_completed"] is False
    assert [b["status"] for b in statuspage.bodies("PATCH")] == ["in_progress", "completed"]
    assert statuspage.incidents["sp1"]["status"] == "completed"
    # The cancelled window is taken off the page (a scheduled incident has no cancelled state).
    assert [(m, p) for m, p, _ in statuspage.requests if m == "DELETE"] == [
        ("DELETE", "/v1/pages/pg123/incidents/sp2")
    ]
    assert "sp2" not in statuspage.incidents
    assert refs == [{"statuspage_incident_id": "sp1"}, {"statuspage_incident_id": "sp2"}]

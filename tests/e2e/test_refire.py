"""Re-fire after resolve, over HTTP against the sandbox: Alertmanager resends a group that is
still firing at every `repeat_interval`, whatever was done with its incident.

Within the playbook's `refire_window` (the bundled playbooks keep the 1 h default) the group
joins the resolved incident and its channel is told once, with a Reopen button; past it a
new incident opens that names the previous one. The domain's clock is the wall clock moved
forward by the test, so "past the window" needs no waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select

from storage.models import OutboxOp
from tests.e2e.conftest import Service, serving
from tests.e2e.test_slack_flow import _card, _events, _incident, _open_alert, _payload
from tests.support.server import wait_until

STILL_FIRING = "Still firing after resolve"


class MovableClock:
    """The wall clock, plus however far the test moved it on."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def service(database: tuple[Engine, str], clock: MovableClock) -> Iterator[Service]:
    with serving(database[1], clock=clock) as running:
        yield running


def _post(service: Service, name: str) -> dict:
    answer = httpx.post(
        f"{service.url}/alerts/alertmanager", json=_payload(name), headers=service.auth
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


def _resolved(service: Service, channel: str) -> int:
    """Open the reference group's incident, resolve it as alice; its id."""
    incident_id = _incident_id(service)
    alice = service.sandbox.as_user("alice")
    alice.join(channel)
    alice.command("/incident resolve restarted the dependency", channel)
    wait_until(lambda: _incident(service, incident_id)["status"] == "resolved", timeout=10)
    return incident_id


def _incident_id(service: Service) -> int:
    listed = httpx.get(f"{service.url}/api/incidents", headers=service.auth).json()
    return listed["incidents"][0]["id"]


def _still_firing(service: Service, channel: str) -> list[dict]:
    return [m for m in service.sandbox.messages(channel) if STILL_FIRING in m.get("text", "")]


def _outbox_drained(service: Service) -> bool:
    with service.runtime.sessions() as session:
        waiting = session.scalar(
            select(func.count()).where(OutboxOp.state.in_(("pending", "running")))  # type: ignore[attr-defined]
        )
    return waiting == 0


def _incident_channels(service: Service) -> list[str]:
    return [c["name"] for c in service.sandbox.info()["channels"] if c["name"].startswith("inc-")]


def test_a_group_still_firing_after_resolve_joins_it_and_says_so_once_with_reopen(
    service: Service,
) -> None:
    _, channel = _open_alert(service, "alertmanager", _payload("alertmanager_firing.json"))
    incident_id = _resolved(service, channel)

    # Alertmanager's next repeat_interval, and two more.
    answers = [_post(service, "alertmanager_firing.json") for _ in range(3)]

    for answer in answers:
        assert [(ref["id"], ref["created"]) for ref in answer["incidents"]] == [
            (incident_id, False)
        ]
    notice = wait_until(lambda: _still_firing(service, channel), timeout=10)
    wait_until(lambda: _outbox_drained(service), timeout=10)
    assert len(_still_firing(service, channel)) == 1
    [message] = notice
    buttons = [
        (e["action_id"], e["text"]["text"], e["value"])
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == [("incident_reopen", "Reopen", str(incident_id))]
    assert len(_incident_channels(service)) == 1
    detail = _incident(service, incident_id)
    assert detail["status"] == "resolved"
    assert [alert["seen_count"] for alert in detail["alerts"]] == [4]  # counted, not retold
    refiring = [e for e in _events(service, incident_id) if e["kind"] == "refiring"]
    assert [e["text"] for e in refiring] == [
        f"{STILL_FIRING}: MatchingEngineErrors: "
        "API error 30030: matching engine upgrade in progress"
    ]

    # Its recovery changes nothing anyone sees.
    before = _events(service, incident_id)
    messages = len(service.sandbox.messages(channel))
    recovered = _post(service, "alertmanager_resolved.json")
    assert recovered["incidents"] == []
    assert _events(service, incident_id) == before
    assert _incident(service, incident_id)["status"] == "resolved"
    assert len(service.sandbox.messages(channel)) == messages

    # Reopen, as `/incident reopen` does.
    service.sandbox.as_user("bob").join(channel)
    service.sandbox.as_user("bob").click(channel, "incident_reopen")
    wait_until(lambda: _incident(service, incident_id)["status"] == "investigating", timeout=10)
    reopened = [e for e in _events(service, incident_id) if e["kind"] == "reopened"]
    assert [e["actor"] for e in reopened] == ["U0BOB"]
    wait_until(lambda: _card(service, channel)["blocks"][-1]["type"] == "actions", timeout=10)


def test_a_second_resolve_is_told_again_once(service: Service) -> None:
    _, channel = _open_alert(service, "alertmanager", _payload("alertmanager_firing.json"))
    incident_id = _resolved(service, channel)
    _post(service, "alertmanager_firing.json")
    wait_until(lambda: _still_firing(service, channel), timeout=10)
    alice = service.sandbox.as_user("alice")
    alice.click(channel, "incident_reopen")
    wait_until(lambda: _incident(service, incident_id)["status"] == "investigating", timeout=10)
    alice.command("/incident resolve for good this time", channel)
    wait_until(lambda: _incident(service, incident_id)["status"] == "resolved", timeout=10)

    _post(service, "alertmanager_firing.json")
    _post(service, "alertmanager_firing.json")

    wait_until(lambda: len(_still_firing(service, channel)) == 2, timeout=10)
    wait_until(lambda: _outbox_drained(service), timeout=10)
    assert len(_still_firing(service, channel)) == 2


def test_past_the_window_a_new_incident_opens_as_a_recurrence(
    service: Service, clock: MovableClock
) -> None:
    _, channel = _open_alert(service, "alertmanager", _payload("alertmanager_firing.json"))
    first = _resolved(service, channel)
    clock.ahead = timedelta(hours=1, minutes=1)  # the bundled playbooks' window is 1 h

    answer = _post(service, "alertmanager_firing.json")

    [ref] = answer["incidents"]
    assert ref["created"] is True and ref["id"] != first
    second = ref["id"]
    new_channel = wait_until(lambda: _incident(service, second)["channel_id"], timeout=10)
    card = wait_until(lambda: _card(service, new_channel), timeout=10)
    context = [
        element["text"]
        for block in card["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
    ]
    assert f":repeat: Recurrence of incident #{first}: its alerts fired again" in context
    assert _incident(service, second)["recurrence_of"] == first
    listed = httpx.get(f"{service.url}/api/incidents", headers=service.auth).json()
    assert {i["id"]: i["recurrence_of"] for i in listed["incidents"]} == {
        first: None,
        second: first,
    }
    texts = [e["text"] for e in _events(service, second) if e["kind"] == "recurrence"]
    assert texts == [f"Recurrence of incident #{first}: its alerts fired again"]
    announced = wait_until(
        lambda: [
            m["text"]
            for m in service.sandbox.messages("incidents")
            if f"incident #{second} opened" in m.get("text", "")
        ],
        timeout=10,
    )
    assert f"(recurrence of #{first})" in announced[0]
    wait_until(lambda: _outbox_drained(service), timeout=10)
    assert _still_firing(service, channel) == []
    assert len(_incident_channels(service)) == 2
